"""Phases counted in iterations under an epoch-based loop (issue 21, item 12).

mmengine's EpochBasedTrainLoop calls ``model.train()`` once per epoch; with ``by_epoch=False`` a finetune
phase can start in the middle of an epoch, after a denoise phase put every norm layer in eval mode. Only
DenoiseRepHook's ``model.train()`` at the phase change puts them back in train mode there.
"""
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from runner_helpers import IterationRecord, changed, classifier_cfg

from mmdenoiserep.apis import build_runner


def running_stats(model) -> dict:
    return {name: t.clone() for name, t in model.state_dict().items() if name.endswith(('running_mean', 'running_var'))}


class RunningStatsMoved(Hook):
    """The running-statistics buffers that each training iteration changed."""

    priority = 'LOWEST'

    def __init__(self):
        self.moved = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.before = running_stats(runner.model)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.moved.append(changed(self.before, running_stats(runner.model)))


def test_finetune_phase_starting_mid_epoch_trains_the_norm_layers(tmp_path):
    cfg = classifier_cfg(tmp_path, 'train_cfg.max_epochs=1')  # one epoch of 5 iterations
    cfg.custom_hooks[0].update(by_epoch=False, interval=2)  # denoise 0-1, finetune 2-3, denoise 4
    record, stats = IterationRecord(), RunningStatsMoved()
    runner = build_runner(cfg)
    runner.register_hook(record)
    runner.register_hook(stats)
    runner.train()
    assert isinstance(runner.train_loop, EpochBasedTrainLoop)
    assert record.phases == ['denoise', 'denoise', 'finetune', 'finetune', 'denoise']
    norms = [name for name, m in runner.model.named_modules() if getattr(m, 'running_mean', None) is not None]
    buffers = set(running_stats(runner.model))
    assert len(norms) == 20 and len(buffers) == 40
    for iteration, moved in zip(record.iterations, stats.moved):
        finetune = iteration['phase'] == 'finetune'
        assert iteration['norms_training'] == (norms if finetune else []), iteration['phase']
        assert moved == (buffers if finetune else set()), iteration['phase']
