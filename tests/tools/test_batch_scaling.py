"""tools/train.py and the total batch a config's LR assumes (auto_scale_lr.base_batch_size): one warning line
when a run differs, --auto-scale-lr scales linearly, and a re-id batch (global, IdentityBatchSampler) is never
multiplied by the number of processes."""
import contextlib
import io

import pytest
from mmengine.config import Config
from tool_helpers import load_tool

from mmdenoiserep.apis import total_batch_size


def cfg_of(batch_size, base, global_batch=False, launcher='pytorch'):
    loader = dict(batch_size=batch_size)
    if global_batch:
        loader['batch_sampler'] = dict(type='mmdenoiserep.IdentityBatchSampler', num_instances=4)
    return Config(dict(train_dataloader=loader, auto_scale_lr=dict(base_batch_size=base), launcher=launcher,
                       optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1))))


def scale(cfg, auto_scale_lr, monkeypatch, world_size=8, rank=0):
    monkeypatch.setenv('WORLD_SIZE', str(world_size))
    monkeypatch.setenv('RANK', str(rank))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        load_tool('train').scale_lr_to_batch(cfg, auto_scale_lr)
    return err.getvalue()


def test_total_batch_is_per_process_times_world_size_unless_global():
    assert total_batch_size(cfg_of(16, 128), 8) == (128, False)
    assert total_batch_size(cfg_of(128, 128, global_batch=True), 8) == (128, True)
    assert total_batch_size(Config(dict()), 4) == (0, False)


def test_a_run_off_the_base_batch_warns_once_on_rank_0(monkeypatch):
    assert scale(cfg_of(16, 128), False, monkeypatch) == ''  # 8 x 16 = the base
    message = scale(cfg_of(16, 128), False, monkeypatch, world_size=4)
    assert message == ("train.py: warning: total batch 64 (4 process(es) x 16) differs from the 128 the config's LR "
                       'assumes (auto_scale_lr.base_batch_size): the LR is not scaled; pass --auto-scale-lr to '
                       'scale it linearly\n')
    assert scale(cfg_of(16, 128), False, monkeypatch, world_size=4, rank=1) == ''
    assert scale(cfg_of(128, 128, global_batch=True), False, monkeypatch) == ''  # global: 8 GPUs change nothing
    assert 'total batch 64 differs' in scale(cfg_of(64, 128, global_batch=True), False, monkeypatch)
    assert scale(cfg_of(16, 128, launcher='none'), False, monkeypatch) .startswith('train.py: warning: total batch 16 (1')


def test_auto_scale_lr_scales_by_the_total_batch(monkeypatch):
    cfg = cfg_of(16, 128)
    scale(cfg, True, monkeypatch, world_size=4)
    assert cfg.auto_scale_lr.enable is True and cfg.optim_wrapper.optimizer.lr == 0.1  # mmengine scales 64/128
    cfg = cfg_of(64, 128, global_batch=True)
    assert scale(cfg, True, monkeypatch) == 'train.py: LR scaled by 64/128 (the global batch over the base)\n'
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(0.05) and not cfg.auto_scale_lr.get('enable')
    cfg = cfg_of(128, 128, global_batch=True)
    scale(cfg, True, monkeypatch)
    assert cfg.optim_wrapper.optimizer.lr == 0.1 and not cfg.auto_scale_lr.get('enable')
    with pytest.raises(ValueError, match='--auto-scale-lr needs auto_scale_lr.base_batch_size'):
        scale(Config(dict(train_dataloader=dict(batch_size=2))), True, monkeypatch)


def test_tiny_runs_amp_configs_without_amp_on_a_cpu(monkeypatch):
    import torch

    from mmdenoiserep.testing.tiny_config import tiny_config
    cfg = Config(dict(optim_wrapper=dict(type='AmpOptimWrapper', loss_scale='dynamic', dtype='float16',
                                         optimizer=dict(type='SGD', lr=0.1))))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert tiny_config(cfg.copy()).optim_wrapper.type == 'AmpOptimWrapper'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert tiny_config(cfg).optim_wrapper.to_dict() == dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))
