"""``tools/train.py --resume`` on a first launch starts from ``load_from``; later launches resume.

Job scripts pass ``--resume`` on every launch for kill-safety. mmengine's ``resume=True`` with nothing to
resume dropped ``load_from``: a control or DenoiseRep run trained from random weights and exited 0.
The runs stop right after loading (``Runner.train`` replaced), so the weights seen are the starting ones.
"""
import pytest
import torch
from config_helpers import load
from mmengine.runner import Runner
from tool_helpers import run_tool

from mmdenoiserep.apis import build_model
from mmdenoiserep.utils import load_checkpoint_file

BASELINE = 'configs/resnet50_in1k.py'
BASELINE_RESNET18 = ['model.backbone.depth=18', 'model.head.in_channels=512']
DENOISEREP_RESNET18 = ['model.backbone.backbone.depth=18', 'model.head.in_channels=512']
ONE_SHORT_EPOCH = ['train_dataloader.dataset.indices=2', 'train_cfg.max_epochs=1', 'train_cfg.val_begin=100']
CONTROL, DENOISEREP = 'configs/resnet50_control_in1k.py', 'configs/resnet50_denoiserep_in1k.py'


@pytest.fixture(scope='module')
def baseline_checkpoint(tmp_path_factory):
    torch.manual_seed(3)
    model = build_model(load(BASELINE, *BASELINE_RESNET18))
    path = tmp_path_factory.mktemp('baseline') / 'epoch_2.pth'
    torch.save(dict(meta=dict(epoch=2), state_dict=model.state_dict()), path)
    return path, model.state_dict()


def stop_after_loading(monkeypatch) -> dict:
    """Runner.train replaced by: initialise, load or resume, then record the model's weights and whether
    Runner.resume ran."""
    seen = dict(resumed=False)
    resume = Runner.resume

    def resume_and_record(runner, *args, **kwargs):
        seen['resumed'] = True
        return resume(runner, *args, **kwargs)

    def load_only(runner):
        if hasattr(runner.model, 'init_weights'):  # as Runner.train does before loading
            runner.model.init_weights()
        runner.load_or_resume()
        seen.update(state_dict=runner.model.state_dict())
        return runner.model

    monkeypatch.setattr(Runner, 'resume', resume_and_record)
    monkeypatch.setattr(Runner, 'train', load_only)
    return seen


@pytest.fixture
def start_weights(monkeypatch):
    return stop_after_loading(monkeypatch)


def train(config, work_dir, *options):
    resnet18 = DENOISEREP_RESNET18 if config == DENOISEREP else BASELINE_RESNET18
    return run_tool('train', config, '--tiny', '--resume', '--work-dir', work_dir, '--cfg-options', *resnet18,
                    *options)


@pytest.mark.parametrize('config', [CONTROL, DENOISEREP])
def test_first_launch_with_resume_starts_from_load_from(config, baseline_checkpoint, start_weights, tmp_path):
    path, expected = baseline_checkpoint
    result = train(config, tmp_path / 'work', f'load_from={path}')
    assert result.returncode == 0, result.stderr[-2000:]
    assert f'--resume: no checkpoint in {tmp_path / "work"} yet: starting from load_from {path}' in result.stderr
    loaded = {k: v for k, v in start_weights['state_dict'].items() if '.denoiser.' not in k}
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)
    assert not start_weights['resumed']


def test_later_launch_with_resume_resumes_the_work_dirs_latest(baseline_checkpoint, monkeypatch, tmp_path):
    path, _ = baseline_checkpoint
    work = tmp_path / 'work'
    first = train(CONTROL, work, f'load_from={path}', *ONE_SHORT_EPOCH)  # really trains: writes epoch_1.pth
    assert first.returncode == 0, first.stderr[-2000:]
    latest = (work / 'last_checkpoint').read_text().strip()
    seen = stop_after_loading(monkeypatch)
    result = train(CONTROL, work, f'load_from={path}', *ONE_SHORT_EPOCH)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f'train.py: resuming from {latest}' in result.stderr
    own = load_checkpoint_file(latest)['state_dict']
    assert all(torch.equal(seen['state_dict'][k], own[k]) for k in own)
    assert seen['resumed']


def test_first_launch_without_load_from_says_it_starts_from_the_initial_weights(start_weights, tmp_path):
    result = train(BASELINE, tmp_path / 'work')
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'yet: starting from the initial weights (no load_from)' in result.stderr


def test_tiny_training_starts_from_the_tiny_baseline_when_there_is_one(tmp_path, monkeypatch):
    from mmdenoiserep.testing.tiny_config import tiny_load_from
    monkeypatch.chdir(tmp_path)
    config_load_from = 'work_dirs/mask_rcnn_swinv2_t_coco/epoch_12.pth'
    path, line = tiny_load_from(config_load_from)
    assert path is None
    assert line == ('--tiny: starting from random weights: no tiny baseline in work_dirs/tiny/mask_rcnn_swinv2_t_coco '
                    'yet (train one with python tools/train.py configs/mask_rcnn_swinv2_t_coco.py --tiny); the '
                    'config: load_from work_dirs/mask_rcnn_swinv2_t_coco/epoch_12.pth')
    tiny_dir = tmp_path / 'work_dirs' / 'tiny' / 'mask_rcnn_swinv2_t_coco'
    tiny_dir.mkdir(parents=True)
    (tiny_dir / 'epoch_2.pth').write_bytes(b'')
    (tiny_dir / 'last_checkpoint').write_text(str(tiny_dir / 'epoch_2.pth'))
    path, line = tiny_load_from(config_load_from)
    assert path == str(tiny_dir / 'epoch_2.pth')
    assert line == f'--tiny: starting from the tiny baseline {path} (the config: load_from {config_load_from})'
    assert tiny_load_from(None) == (None, None)


def test_tiny_training_says_when_it_drops_a_full_scale_checkpoint(start_weights, tmp_path):
    result = train(CONTROL, tmp_path / 'work')
    assert result.returncode == 0, result.stderr[-2000:]
    assert ('--tiny: starting from random weights: load_from pretrain/resnet50_torchvision_in1k.pth is a full-scale '
            'checkpoint (give a tiny one with --cfg-options load_from=PATH)') in result.stderr
    given = train(CONTROL, tmp_path / 'work2', 'load_from=None')
    assert '--tiny: starting' not in given.stderr  # --cfg-options after --tiny decide


def test_tiny_runs_default_to_a_work_dir_of_their_own():
    from config_helpers import load as load_tool_config
    assert load_tool_config(CONTROL).work_dir == './work_dirs/tiny/resnet50_control_in1k'
    assert load_tool_config(CONTROL, tiny=False).work_dir == './work_dirs/resnet50_control_in1k'
