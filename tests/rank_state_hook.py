"""Test-only mmengine hook for tests/tools/test_dist_train.py: each rank dumps its model state to the work dir.

Imported by the training processes through ``custom_imports`` (tests/ on PYTHONPATH), so it must not
import anything from the test suite. Files, one per rank ``r``:

- ``rank{r}_epoch0.pth`` before the first training epoch;
- ``rank{r}_epoch{e}.pth`` at the end of every training epoch ``e`` (1-based) but the last;
- ``rank{r}.pth`` after training (the state after the last epoch).

Each holds ``dict(phase=..., params={name: tensor}, buffers={name: tensor})`` of the unwrapped model
(``named_parameters`` and ``named_buffers``, so the two kinds are told apart by the model itself).
"""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankStateDumpHook(Hook):

    priority = 'LOWEST'

    def dump(self, runner, name: str) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state = dict(
            phase=runner.message_hub.get_info('denoiserep_phase'),
            params={n: p.detach().cpu().clone() for n, p in model.named_parameters()},
            buffers={n: b.detach().cpu().clone() for n, b in model.named_buffers()})
        torch.save(state, osp.join(runner.work_dir, f'rank{get_rank()}{name}.pth'))

    def before_train(self, runner) -> None:
        self.dump(runner, '_epoch0')

    def after_train_epoch(self, runner) -> None:
        epoch = runner.epoch + 1  # runner.epoch counts up after this hook
        if epoch < runner.max_epochs:
            self.dump(runner, f'_epoch{epoch}')

    def after_train(self, runner) -> None:
        self.dump(runner, '')
