"""The paper's re-id ablations end to end on tiny Market-1501 (slow), from a tiny TransReID-SSL ViT-S baseline:

- label-free: ``tools/train.py`` on the training images read by UnlabeledImageFolder (no label exists), the denoise
  phase only: every network weight ends as the baseline's, the denoisers moved; fuse; ``tools/test.py`` with the
  baseline config;
- merged datasets: the denoise epochs iterate over the union of the four tiny re-id training sets, every image once,
  the finetune epoch over Market-1501's identity batches; a run resumed at an epoch boundary ends exactly as the
  uninterrupted one; fuse; test;
- post-backbone denoiser: trains, ``tools/fuse_ckpt.py`` refuses it in one line, ``tools/test.py`` tests it with
  its own config, ``tools/benchmark.py --compare`` times it next to the fused DenoiseRep model, with the
  parameters and FLOPs of one extra C x C layer.
The tiny runs check the pipeline: 2 epochs on 4 synthetic identities say nothing about the method.
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from config_helpers import load
from mmengine.hooks import Hook
from tool_helpers import load_tool

from mmdenoiserep.apis import build_runner
from mmdenoiserep.utils import load_checkpoint_file

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BASELINE = 'configs/transreid_ssl_vit_s_market1501.py'
DENOISEREP = 'configs/transreid_ssl_vit_s_denoiserep_market1501.py'
LABEL_FREE = 'configs/transreid_ssl_vit_s_denoiserep_label_free_market1501.py'
MERGED = 'configs/transreid_ssl_vit_s_denoiserep_merged_market1501.py'
POST_BACKBONE = 'configs/transreid_ssl_vit_s_post_backbone_market1501.py'
TRAIN_SETS = [f'configs/transreid_ssl_vit_s_{data}.py' for data in ('market1501', 'dukemtmc', 'msmt17', 'cuhk03')]
MAP = re.compile(r'reid/mAP: ([\d.]+)')


def run(*args):
    result = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    return result.returncode, result.stdout + result.stderr


def ok(*args) -> str:
    code, log = run(*args)
    assert code == 0, log[-4000:]
    return log


def last_checkpoint(work: Path) -> str:
    return (work / 'last_checkpoint').read_text().strip()


@pytest.fixture(scope='module')
def baseline(tmp_path_factory):
    work = tmp_path_factory.mktemp('reid_ablations')
    ok('tools/train.py', BASELINE, '--tiny', '--work-dir', work / 'baseline')
    yield work, last_checkpoint(work / 'baseline')
    shutil.rmtree(work, ignore_errors=True)


def train_images(config: str) -> list:
    cfg = load(config)
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope('mmpretrain')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def test_label_free_trains_only_the_denoisers_on_unlabelled_images_and_fuses(baseline):
    work, start = baseline
    log = ok('tools/train.py', LABEL_FREE, '--tiny', '--work-dir', work / 'label_free', '--cfg-options',
             f'load_from={start}')
    assert "phase 'denoise' from epoch 1" in log and "phase 'finetune'" not in log
    pairs = re.findall(r'loss: ([\d.]+)\s+loss_denoise: ([\d.]+)', log)
    assert pairs and all(total == denoise for total, denoise in pairs)  # backbone only: no task loss
    checkpoint = last_checkpoint(work / 'label_free')
    before, after = load_checkpoint_file(start)['state_dict'], load_checkpoint_file(checkpoint)['state_dict']
    network = [key for key in after if '.denoiser.' not in key]
    assert sorted(network) == sorted(before)
    assert all(torch.equal(before[key], after[key]) for key in network)  # the baseline's weights, BNNeck included
    assert any(after[key].abs().sum() > 0 for key in after if key.endswith('.denoiser.weight'))  # zero-initialised
    fused = work / 'label_free_fused.pth'
    ok('tools/fuse_ckpt.py', LABEL_FREE, checkpoint, fused, '--tiny')
    log = ok('tools/test.py', BASELINE, fused, '--tiny', '--work-dir', work / 'label_free_test')
    print(f'label-free (tiny, pipeline check): reid/mAP {MAP.findall(log)[-1]}')


class EpochImages(Hook):
    """The image paths each training epoch read, and the train loop's iteration count."""

    priority = 'LOWEST'

    def __init__(self):
        self.epochs = {}

    def before_train(self, runner):
        self.max_iters = runner.train_loop.max_iters

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        paths = [sample.img_path for sample in data_batch['data_samples']]
        self.epochs.setdefault(runner.epoch, []).extend(paths)


def merged_runner(work: Path, load_from: str, resume=None):
    cfg = load(MERGED, 'train_cfg.max_epochs=3', work_dir=work)  # --tiny: denoise, finetune, denoise
    cfg.load_from = resume or load_from
    cfg.resume = resume is not None
    runner = build_runner(cfg)
    record = EpochImages()
    runner.register_hook(record)
    return runner, record


def test_merged_denoises_on_the_union_finetunes_on_the_target_and_resumes_exactly(baseline):
    work, start = baseline
    union = sorted(path for config in TRAIN_SETS for path in train_images(config))
    market = set(train_images(BASELINE))
    runner, record = merged_runner(work / 'merged', start)
    runner.train()
    assert sorted(record.epochs[0]) == union and sorted(record.epochs[2]) == union  # each image once per epoch
    assert set(record.epochs[1]) <= market and len(record.epochs[1]) == 4 * 6  # 6 identity batches of 2 x 2
    assert record.max_iters == 2 * len(union) // 4 + 6

    resumed_dir = work / 'merged_resumed'
    resumed_dir.mkdir()
    shutil.copy(work / 'merged' / 'epoch_2.pth', resumed_dir / 'epoch_2.pth')
    resumed, resumed_record = merged_runner(resumed_dir, start, resume=str(resumed_dir / 'epoch_2.pth'))
    resumed.train()
    assert list(resumed_record.epochs) == [2] and resumed_record.epochs[2] == record.epochs[2]  # the same order
    uninterrupted = load_checkpoint_file(str(work / 'merged' / 'epoch_3.pth'))['state_dict']
    final = load_checkpoint_file(str(resumed_dir / 'epoch_3.pth'))['state_dict']
    assert uninterrupted.keys() == final.keys()
    assert all(torch.equal(uninterrupted[key], final[key]) for key in final)

    fused = work / 'merged_fused.pth'
    ok('tools/fuse_ckpt.py', MERGED, work / 'merged' / 'epoch_3.pth', fused, '--tiny')
    log = ok('tools/test.py', BASELINE, fused, '--tiny', '--work-dir', work / 'merged_test')
    print(f'merged (tiny, pipeline check): reid/mAP {MAP.findall(log)[-1]}')


def test_post_backbone_trains_stays_unfused_and_is_benchmarked(baseline, capsys):
    work, start = baseline
    log = ok('tools/train.py', POST_BACKBONE, '--tiny', '--work-dir', work / 'post', '--cfg-options',
             f'load_from={start}')
    assert "phase 'denoise' from" in log and "phase 'finetune' from" in log
    assert 'the denoise phase runs the full forward: denoising layers outside model.backbone: neck.reverse_step' in log
    checkpoint = last_checkpoint(work / 'post')
    state = load_checkpoint_file(checkpoint)['state_dict']
    assert torch.equal(state['neck.reverse_step.weight'], torch.eye(384))  # the identity the denoiser rides on
    assert state['neck.reverse_step.denoiser.weight'].abs().sum() > 0

    code, log = run('tools/fuse_ckpt.py', POST_BACKBONE, checkpoint, work / 'post_fused.pth', '--tiny')
    errors = [line for line in log.splitlines() if line.startswith('fuse_ckpt.py: error:')]
    assert code == 1 and len(errors) == 1 and 'do not fuse' in errors[0] and 'neck.reverse_step' in errors[0]
    assert not (work / 'post_fused.pth').exists()
    log = ok('tools/test.py', POST_BACKBONE, checkpoint, '--tiny', '--work-dir', work / 'post_test')
    print(f'post-backbone (tiny, pipeline check): reid/mAP {MAP.findall(log)[-1]}')

    out = work / 'bench.json'
    assert load_tool('benchmark').main([DENOISEREP, '--tiny', '--batch', '1', '--shape', '3', '256', '128',
                                        '--repeats', '4', '--no-train', '--compare', POST_BACKBONE,
                                        '--compare-checkpoint', checkpoint, '--json', str(out)]) == 0
    report = json.loads(out.read_text())
    name = "compared (transreid_ssl_vit_s_post_backbone_market1501, eval, W' cached)"
    assert name in report['latency_seconds'] and f'| {name} |' in capsys.readouterr().out
    extra = 384 * 384 + 384  # the layer of the deployed form: W' (C x C), b'
    assert report['params']['compared'] == report['params']['baseline'] + 2 * extra  # + the carried A, a
    assert report['flops']['compared'] == report['flops']['baseline'] + 384 * 384  # one image: a (1, C) x (C, C)
