"""End to end on the tiny data (slow): train with DenoiseRep -> fuse -> test the fused baseline model.

The predictions that tools/test.py dumps from the unfused DenoiseRep model and from the stock baseline
model with the fused checkpoint must agree, for each toolbox.
"""
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run(*args, timeout=1200):
    result = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    return result.stdout


@pytest.mark.timeout(1800)
def test_main_job(tmp_path):
    out = run('tools/main_job.py', '--work-dir', tmp_path, timeout=1700)
    assert '[5/5] test fused (baseline config): done' in out
    boxes, box_diff, score_diff = re.search(
        r'(\d+) boxes: max box diff (\S+) px, max score diff (\S+)', out).groups()
    assert int(boxes) > 0 and float(box_diff) <= 1e-2 and float(score_diff) <= 1e-4
    unfused, fused = re.search(r'parameters: (\d+) unfused -> (\d+) fused', out).groups()
    assert int(fused) < int(unfused)
    checkpoint = torch.load(tmp_path / 'fused.pth', weights_only=True)
    assert set(checkpoint) == {'meta', 'state_dict'}
    assert not any('.denoiser.' in key for key in checkpoint['state_dict'])


SEG_OPTIONS = ['model.backbone.backbone.depth=18', 'model.decode_head.in_channels=512',
               'model.decode_head.channels=64', 'model.auxiliary_head.in_channels=256',
               'model.auxiliary_head.channels=32']
SEG_BASELINE = ("_base_ = 'mmseg::fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py'\n"
                "model = dict(backbone=dict(depth=18), decode_head=dict(in_channels=512, channels=64),\n"
                "             auxiliary_head=dict(in_channels=256, channels=32))\n")
CLS_OPTIONS = ['model.backbone.backbone.depth=18', 'model.head.in_channels=512',
               'model.backbone.example_input_shape=[1,3,64,64]']
CLS_BASELINE = ("_base_ = 'mmpretrain::resnet/resnet50_8xb32_in1k.py'\n"
                "model = dict(backbone=dict(depth=18), head=dict(in_channels=512))\n")


def prediction(sample: dict) -> torch.Tensor:
    if 'seg_logits' in sample:
        return sample['seg_logits']['data']
    return sample['pred_score']


@pytest.mark.parametrize('config, options, baseline', [
    ('configs/fcn_r50_denoiserep_ade20k.py', SEG_OPTIONS, SEG_BASELINE),
    ('configs/resnet50_denoiserep_in1k.py', CLS_OPTIONS, CLS_BASELINE),
], ids=['mmseg-fcn', 'mmpretrain-resnet'])
def test_train_fuse_test(config, options, baseline, tmp_path):
    work = tmp_path / 'train'
    run('tools/train.py', config, '--tiny', '--work-dir', work, '--cfg-options', *options)
    checkpoint = (work / 'last_checkpoint').read_text().strip()
    baseline_config = tmp_path / 'baseline.py'
    baseline_config.write_text(baseline)
    fused = tmp_path / 'fused.pth'
    run('tools/fuse_ckpt.py', config, checkpoint, fused, '--tiny', '--shape', '1', '3', '64', '64',
        '--cfg-options', *options)
    run('tools/test.py', config, checkpoint, '--tiny', '--work-dir', tmp_path / 'unfused',
        '--out', tmp_path / 'unfused.pkl', '--cfg-options', *options)
    run('tools/test.py', baseline_config, fused, '--tiny', '--work-dir', tmp_path / 'fused',
        '--out', tmp_path / 'fused.pkl')
    with open(tmp_path / 'unfused.pkl', 'rb') as a, open(tmp_path / 'fused.pkl', 'rb') as b:
        unfused, fused_results = pickle.load(a), pickle.load(b)
    assert len(unfused) == len(fused_results) > 0
    for x, y in zip(unfused, fused_results):
        torch.testing.assert_close(prediction(y), prediction(x), rtol=1e-4, atol=1e-4)
