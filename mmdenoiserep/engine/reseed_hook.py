"""``mmdenoiserep.ReseedHook``: random numbers that depend on the position in training, not on its history."""
import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from ..registry import HOOKS

__all__ = ['ReseedHook', 'derived_seed']


def derived_seed(seed: int, *position: int) -> int:
    """A 32-bit seed mixed from ``seed`` and the position (e.g. ('epoch', 3) as (0, 3)); numpy's SeedSequence."""
    return int(np.random.SeedSequence([seed, *position]).generate_state(1)[0])


@HOOKS.register_module()
class ReseedHook(Hook):
    """Reseed python's ``random``, numpy and torch (all devices) at the start of every training epoch and
    iteration from (run seed, epoch or iteration).

    A run resumed from a checkpoint then draws the same random numbers as the run that was not
    interrupted: the noise of DenoiseRep's loss, dropout, drop-path, and the random transforms of the data
    pipeline in the main process (epoch loops; in iteration loops with ``num_workers > 0``, where the
    workers are seeded when they start). mmengine saves no random state in checkpoints; without this hook
    a resumed run continues from a freshly seeded generator. The run seed is mmengine's (``randomness.seed``,
    or the one it drew and stored in the checkpoint); ``randomness.diff_rank_seed`` adds the rank.
    Every config of this project declares it (``default_hooks.reseed``, configs/_base_/denoiserep_runtime.py).
    """

    priority = 'VERY_HIGH'  # before any hook that may draw

    def _reseed(self, runner, *position: int) -> None:
        seed = runner.seed
        if runner.cfg.get('randomness', {}).get('diff_rank_seed', False):
            seed += get_rank()
        value = derived_seed(seed, *position)
        random.seed(value)
        np.random.seed(value)
        torch.manual_seed(value)  # every device's generator too

    def before_train_epoch(self, runner) -> None:
        self._reseed(runner, 0, runner.epoch)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._reseed(runner, 1, runner.iter)
