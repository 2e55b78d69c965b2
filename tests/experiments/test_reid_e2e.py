"""Re-id end to end on tiny Market-1501 (slow), with the user's commands:

    python tools/train.py configs/transreid_ssl_vit_s_market1501.py --tiny              # baseline
    python tools/train.py configs/transreid_ssl_vit_s_denoiserep_market1501.py --tiny \
        --cfg-options load_from=<baseline checkpoint>                                   # DenoiseRep
    python tools/fuse_ckpt.py <denoiserep config> <checkpoint> fused.pth --tiny
    python tools/test.py configs/transreid_ssl_vit_s_market1501.py fused.pth --tiny     # mAP / CMC

Checked: both DenoiseRep phases run from the baseline's weights; the fused checkpoint loads into the baseline
config's model; the query and gallery features of the fused and unfused models agree within 1e-4 (relative
to the largest feature value) on every test image; tools/test.py reports mAP and rank-1/5/10, the same for the
fused checkpoint (baseline config) and the unfused one (DenoiseRep config). And a 2-process CPU run of
tools/dist_train.sh on the DenoiseRep config, whose ranks end with identical parameters.
"""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from config_helpers import load
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from test_experiments import build_model

from mmdenoiserep import denoising_layers

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BASELINE = 'configs/transreid_ssl_vit_s_market1501.py'
DENOISEREP = 'configs/transreid_ssl_vit_s_denoiserep_market1501.py'
METRIC = re.compile(r'reid/mAP: ([\d.]+)\s+reid/rank1: ([\d.]+)\s+reid/rank5: ([\d.]+)\s+reid/rank10: ([\d.]+)')


def run(*args, env=None):
    start = time.monotonic()
    result = subprocess.run([*args], cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    print(f'{" ".join(map(str, args[:3]))}: {time.monotonic() - start:.1f} s')
    return output


def last_checkpoint(work_dir: Path) -> str:
    return (work_dir / 'last_checkpoint').read_text().strip()


def metrics(log: str) -> dict:
    """The last reid metrics line of a log: {'mAP': ..., 'rank1': ..., 'rank5': ..., 'rank10': ...}."""
    found = METRIC.findall(log)
    assert found, log[-3000:]
    return dict(zip(('mAP', 'rank1', 'rank5', 'rank10'), map(float, found[-1])))


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    work = tmp_path_factory.mktemp('reid_e2e')
    python = sys.executable
    logs = dict(baseline=run(python, 'tools/train.py', BASELINE, '--tiny', '--work-dir', work / 'baseline'))
    baseline_ckpt = last_checkpoint(work / 'baseline')
    logs['denoiserep'] = run(python, 'tools/train.py', DENOISEREP, '--tiny', '--work-dir', work / 'denoiserep',
                             '--cfg-options', f'load_from={baseline_ckpt}')
    checkpoint = last_checkpoint(work / 'denoiserep')
    fused = work / 'fused.pth'
    logs['fuse'] = run(python, 'tools/fuse_ckpt.py', DENOISEREP, checkpoint, fused, '--tiny')
    logs['test_fused'] = run(python, 'tools/test.py', BASELINE, fused, '--tiny', '--work-dir', work / 'test_fused')
    logs['test_unfused'] = run(python, 'tools/test.py', DENOISEREP, checkpoint, '--tiny',
                               '--work-dir', work / 'test_unfused')
    yield dict(logs=logs, checkpoint=checkpoint, fused=fused, baseline_ckpt=baseline_ckpt)
    for path in work.rglob('*.pth'):
        path.unlink()


def test_denoiserep_starts_from_the_baseline_and_runs_both_phases(runs):
    log = runs['logs']['denoiserep']
    assert f'Load checkpoint from {runs["baseline_ckpt"]}' in log
    assert "phase 'denoise' from epoch 1" in log and "phase 'finetune' from epoch 2" in log
    converted, total = map(int, re.search(r"preset 'authors' \(mlp_linears, the authors' selection for "
                                          r'VisionTransformer\): (\d+) of (\d+) selected', log).groups())
    assert converted == total == 12 * 2  # ViT-S: fc1, fc2 per block (the authors' convert_vit_denoise_linear)
    assert 'DenoiseRepHook: denoisers learned: loss / zero predictor (1.0 = nothing learned) mean' in log


def test_test_tool_reports_the_same_metrics_fused_and_unfused(runs):
    fused, unfused = metrics(runs['logs']['test_fused']), metrics(runs['logs']['test_unfused'])
    print(f'tiny Market-1501: baseline (its last validation) {metrics(runs["logs"]["baseline"])}; '
          f'DenoiseRep, fused: {fused}')
    assert fused == unfused
    assert 0 < fused['mAP'] <= 100 and fused['rank1'] <= fused['rank5'] <= fused['rank10'] <= 100


def features(config: str, checkpoint) -> tuple:
    """(features, pids, is_query, model) of every tiny Market-1501 test image under ``config``'s model."""
    model = build_model(config, [], str(checkpoint))
    cfg = load(config)
    init_default_scope(cfg.default_scope)
    out, pids, is_query = [], [], []
    with torch.no_grad():
        for batch in Runner.build_dataloader(cfg.test_dataloader):
            for sample in model.test_step(batch):
                out.append(sample.pred_feature)
                pids.append(sample.pid)
                is_query.append(sample.is_query)
    return torch.stack(out), pids, is_query, model


def test_fused_and_unfused_features_agree_on_every_test_image(runs):
    expected, pids, is_query, unfused = features(DENOISEREP, runs['checkpoint'])
    actual, pids2, is_query2, fused = features(BASELINE, runs['fused'])
    assert denoising_layers(unfused) and not denoising_layers(fused)
    assert (pids, is_query) == (pids2, is_query2) and sum(is_query) == 8 and len(pids) == 8 + 27
    scale = max(1.0, expected.abs().max().item())
    assert (actual - expected).abs().max().item() <= 1e-4 * scale


def test_dist_train_two_processes(tmp_path):
    """tools/dist_train.sh, 2 CPU processes (gloo): the identity sampler gives each rank its batches; the
    ranks end with identical parameters (gradients all-reduced)."""
    from test_dist_train import differing, free_port
    from test_dist_train import load as load_rank_state
    hooks = [hook.to_dict() for hook in Config.fromfile(str(ROOT / DENOISEREP)).custom_hooks]
    config = tmp_path / 'dist_config.py'
    config.write_text(f"_base_ = {str(ROOT / DENOISEREP)!r}\n"
                      "custom_imports = dict(imports=['rank_state_hook'], allow_failed_imports=False)\n"
                      f"custom_hooks = {hooks + [dict(type='RankStateDumpHook')]!r}\n")
    env = dict(os.environ, PORT=str(free_port()),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get('PATH', '')]),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / 'tests'), os.environ.get('PYTHONPATH')])))
    work = tmp_path / 'work'
    log = run('bash', 'tools/dist_train.sh', config, '2', '--tiny', '--work-dir', work, env=env)
    assert 'Distributed training: True' in log and "phase 'finetune' from epoch 2" in log
    assert 'Traceback' not in log
    final = [load_rank_state(work, rank) for rank in (0, 1)]
    assert differing(final[0]['params'], final[1]['params']) == []
