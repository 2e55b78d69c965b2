"""Testing fused checkpoints: the deploy config (the baseline config) works, an unfused checkpoint in a plain
model is refused.

Issue 10 items 9 (a fused checkpoint is tested with tools/test.py) and 12 (tools/test.py with the baseline
config and an unfused checkpoint stops in one line); issue 22 item 8: the deploy form is one path, the
baseline config, whose model is ``strip_denoiserep`` of the DenoiseRep config's (``deploy=True`` is gone).
"""
import copy
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from config_helpers import load
from mmengine.registry import MODELS, init_default_scope
from runner_helpers import RESNET18

from mmdenoiserep import denoiser_parameters, fuse_denoisers
from mmdenoiserep.models import strip_denoiserep
from mmdenoiserep.utils import InputError, check_not_unfused

ROOT = Path(__file__).resolve().parents[2]
SWIN = 'configs/mask_rcnn_swinv2_t_denoiserep_coco.py'
SWIN_DEPLOY = 'configs/mask_rcnn_swinv2_t_coco.py'  # the baseline config is the deploy config
CLASSIFIER = 'configs/resnet50_denoiserep_in1k.py'
CLASSIFIER_BASELINE = (f"_base_ = '{ROOT}/configs/resnet50_in1k.py'\n"  # with the runtime hooks: the checks
                       "model = dict(backbone=dict(depth=18), head=dict(in_channels=512))\n")


def run_tool(*args):
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def denoiserep_model(config, *options):
    cfg = load(config, *options)
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # trained denoisers: the fused weights differ from W
        for p in denoiser_parameters(model):
            p.copy_(torch.randn(p.shape, generator=generator) * 0.02)
    return model


def test_deploy_config_tests_a_fused_checkpoint(tmp_path):
    model = denoiserep_model(SWIN)
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, tmp_path / 'unfused.pth')
    torch.save({'meta': {}, 'state_dict': fuse_denoisers(copy.deepcopy(model)).state_dict()}, tmp_path / 'fused.pth')
    score_thr = ['--cfg-options', 'model.test_cfg.rcnn.score_thr=0.0']
    dumps = {}
    for name, config in (('fused', SWIN_DEPLOY), ('unfused', SWIN)):
        result = run_tool('tools/test.py', config, tmp_path / f'{name}.pth', '--tiny', '--work-dir',
                          tmp_path / name, '--out', tmp_path / f'{name}.pkl', *score_thr)
        assert result.returncode == 0, result.stderr[-3000:]
        with open(tmp_path / f'{name}.pkl', 'rb') as f:
            dumps[name] = pickle.load(f)
    assert len(dumps['fused']) == len(dumps['unfused']) == 8
    for fused, unfused in zip(dumps['fused'], dumps['unfused']):
        a, b = fused['pred_instances'], unfused['pred_instances']
        assert len(a['scores']) > 0
        torch.testing.assert_close(a['scores'], b['scores'], rtol=1e-3, atol=1e-4)


def test_test_py_refuses_an_unfused_checkpoint_with_the_baseline_config(tmp_path):
    unfused = tmp_path / 'epoch_2.pth'
    torch.save({'meta': {}, 'state_dict': denoiserep_model(CLASSIFIER, *RESNET18).state_dict()}, unfused)
    baseline = tmp_path / 'baseline.py'
    baseline.write_text(CLASSIFIER_BASELINE)
    out = tmp_path / 'out.pkl'
    result = run_tool('tools/test.py', baseline, unfused, '--tiny', '--work-dir', tmp_path / 'work', '--out', out)
    assert result.returncode != 0 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if 'test.py: error:' in line]
    assert len(errors) == 1, result.stderr[-3000:]
    assert 'unfused DenoiseRep checkpoint (40 denoiser tensors)' in errors[0]  # 20 bias-free layers: A, schedule
    assert 'tools/fuse_ckpt.py' in errors[0]
    assert not out.exists()


def test_the_deploy_model_is_the_baseline_configs():
    """One deploy path: ``strip_denoiserep`` of the DenoiseRep config's model is the baseline config's model, which
    tools/fuse_ckpt.py checks its output in and tools/test.py tests a fused checkpoint with."""
    assert strip_denoiserep(load(SWIN).model) == load(SWIN_DEPLOY).model


def test_test_py_refuses_a_checkpoint_of_another_schedule_in_one_line(tmp_path):
    """A checkpoint stores each layer's step and schedule; a config of another beta_range would test other
    fused weights: tools/test.py stops with one line naming the first layer and both values."""
    checkpoint = tmp_path / 'epoch_2.pth'
    torch.save({'meta': {}, 'state_dict': denoiserep_model(CLASSIFIER, *RESNET18).state_dict()}, checkpoint)
    out = tmp_path / 'out.pkl'
    result = run_tool('tools/test.py', CLASSIFIER, checkpoint, '--tiny', '--work-dir', tmp_path / 'work', '--out',
                      out, '--cfg-options', *RESNET18, 'model.backbone.beta_range=[0.0001,0.02]')
    assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if 'test.py: error:' in line]
    assert errors == ['test.py: error: backbone.conv1: checkpoint schedule num_steps=1000, beta_range=(0.0001, '
                      "0.002), step=20 differs from the model's num_steps=1000, beta_range=(0.0001, 0.02), "
                      'step=20'], result.stderr[-3000:]
    assert not out.exists()


@pytest.mark.parametrize('checkpoint, refused', [
    ({'state_dict': {'backbone.conv1.weight': torch.zeros(1), 'backbone.conv1.denoiser.weight': torch.zeros(1)}},
     True),
    ({'backbone.conv1.weight': torch.zeros(1), 'backbone.conv1.denoiser.weight': torch.zeros(1)}, True),  # bare
    ({'state_dict': {'module.conv1.denoiser.weight': torch.zeros(1)}}, True),  # DDP prefix
    ({'state_dict': {'backbone.conv1.weight': torch.zeros(1)}}, False),
    ({'meta': {}}, False),
])
def test_unfused_checkpoint_check(checkpoint, refused):
    plain = torch.nn.Sequential(torch.nn.Linear(2, 2))
    if refused:
        with pytest.raises(InputError, match='fuse it first with tools/fuse_ckpt.py'):
            check_not_unfused(plain, checkpoint)
    else:
        check_not_unfused(plain, checkpoint)
    from mmdenoiserep import add_denoisers
    check_not_unfused(add_denoisers(plain), checkpoint)  # a DenoiseRep model loads it


@pytest.mark.parametrize('load_from, source', [('work/epoch_2.pth', 'checkpoint work/epoch_2.pth'),
                                               (None, 'checkpoint (resumed)')])
def test_checkpoint_check_hook_names_the_checkpoint_and_looks_inside_a_model_wrapper(
        load_from, source, process_group):
    from types import SimpleNamespace

    from mmengine.model import MMDistributedDataParallel

    from mmdenoiserep import add_denoisers
    from mmdenoiserep.engine import UnfusedCheckpointCheckHook
    unfused = {'state_dict': {'module.0.denoiser.weight': torch.zeros(1)}}
    hook = UnfusedCheckpointCheckHook()
    for model, refused in [(torch.nn.Sequential(torch.nn.Linear(2, 2)), True),
                           (add_denoisers(torch.nn.Sequential(torch.nn.Linear(2, 2))), False)]:
        for runner_model in (model, MMDistributedDataParallel(model)):
            runner = SimpleNamespace(model=runner_model, _load_from=load_from)
            if refused:
                with pytest.raises(InputError) as error:
                    hook.after_load_checkpoint(runner, unfused)
                assert str(error.value) == (
                    f'{source} is an unfused DenoiseRep checkpoint (1 denoiser tensors) and this model has no '
                    'denoisers: fuse it first with tools/fuse_ckpt.py DENOISEREP_CONFIG CHECKPOINT OUT, or use '
                    'its DenoiseRep config')
            else:
                hook.after_load_checkpoint(runner, unfused)
