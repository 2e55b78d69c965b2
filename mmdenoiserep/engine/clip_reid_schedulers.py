"""CLIP-ReID's two learning-rate schedules, counted as its epoch loops count them (Syliz517/CLIP-ReID).

Both loops step their scheduler at the *start* of epoch e = 1, 2, ... (``processor_clipreid_stage1.py``:
``scheduler.step(epoch)``; ``processor_clipreid_stage2.py``: ``scheduler.step()`` after the constructor's own
step), so epoch e runs with the value at e, not at e - 1 as an mmengine scheduler stepped after each epoch
would give. Here epoch e is the scheduler's step e - 1 (``last_step``, counted from its ``begin``), so

- ``mmdenoiserep.CLIPReIDCosineLR`` (stage 1, ``solver/scheduler_factory.py`` -> timm's CosineLRScheduler with
  cycle_limit 1): lr_g(e) = `mmdenoiserep.engine.timm_cosine_lr` (t = e): warm-up from ``warmup_lr_init`` over
  ``warmup_t`` epochs inside a cosine of ``t_initial`` epochs to ``lr_min``; epoch e = t_initial gets lr_min.
- ``mmdenoiserep.CLIPReIDWarmupMultiStepLR`` (stage 2, ``solver/lr_scheduler.py`` WarmupMultiStepLR):
  lr_g(e) = base_g x w(e) x gamma ^ #{m in milestones: m <= e}, w(e) = warmup_factor (1 - e / warmup_iters) +
  e / warmup_iters ('linear') or warmup_factor ('constant') for e < warmup_iters, else 1.
"""
from bisect import bisect_right
from typing import Sequence

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from ..registry import PARAM_SCHEDULERS
from .schedulers import TimmCosineLR, timm_cosine_lr

__all__ = ['CLIPReIDCosineLR', 'CLIPReIDWarmupMultiStepLR', 'warmup_multistep_factor']


@PARAM_SCHEDULERS.register_module()
class CLIPReIDCosineLR(TimmCosineLR):
    """`TimmCosineLR` at t = e for epoch e counted from 1 (see the module docstring); arguments as TimmCosineLR's."""

    def _get_value(self):
        return [timm_cosine_lr(self.last_step + 1, base, self.t_initial, self.lr_min, self.warmup_t,
                               self.warmup_lr_init, self.warmup_prefix) for base in self.base_values]


def warmup_multistep_factor(epoch: int, milestones: Sequence[int], gamma: float, warmup_factor: float,
                            warmup_iters: int, warmup_method: str) -> float:
    """WarmupMultiStepLR's factor at its ``last_epoch`` = ``epoch`` (see the module docstring)."""
    warmup = 1.0
    if epoch < warmup_iters:
        alpha = epoch / warmup_iters
        warmup = warmup_factor if warmup_method == 'constant' else warmup_factor * (1 - alpha) + alpha
    return warmup * gamma ** bisect_right(list(milestones), epoch)


@PARAM_SCHEDULERS.register_module()
class CLIPReIDWarmupMultiStepLR(LRSchedulerMixin, _ParamScheduler):
    """CLIP-ReID's WarmupMultiStepLR, epoch e counted from 1 (see the module docstring).

    Args:
        optimizer: the optimizer (wrapper).
        milestones (Sequence[int]): epochs (counted from 1) from which the LR is multiplied by another
            ``gamma`` (STEPS). Increasing.
        gamma (float): the factor (GAMMA). Defaults to 0.1.
        warmup_factor (float): the warm-up's starting factor (WARMUP_FACTOR). Defaults to 1 / 3.
        warmup_iters (int): warm-up epochs (WARMUP_ITERS, epochs in CLIP-ReID). Defaults to 10.
        warmup_method (str): 'linear' or 'constant' (WARMUP_METHOD). Defaults to 'linear'.
        begin, end, last_step, by_epoch, verbose: as mmengine's schedulers.
    """

    def __init__(self, optimizer, milestones: Sequence[int], gamma: float = 0.1, warmup_factor: float = 1 / 3,
                 warmup_iters: int = 10, warmup_method: str = 'linear', begin: int = 0, end: int = INF,
                 last_step: int = -1, by_epoch: bool = True, verbose: bool = False):
        if list(milestones) != sorted(milestones):
            raise ValueError(f'milestones must be increasing, got {milestones!r}')
        if warmup_method not in ('linear', 'constant'):
            raise ValueError(f"warmup_method must be 'linear' or 'constant', got {warmup_method!r}")
        if not isinstance(warmup_iters, int) or warmup_iters < 0:
            raise ValueError(f'warmup_iters must be a non-negative int, got {warmup_iters!r}')
        self.milestones, self.gamma = list(milestones), float(gamma)
        self.warmup_factor, self.warmup_iters, self.warmup_method = float(warmup_factor), warmup_iters, warmup_method
        super().__init__(optimizer, begin=begin, end=end, last_step=last_step, by_epoch=by_epoch, verbose=verbose)

    def _get_value(self):
        factor = warmup_multistep_factor(self.last_step + 1, self.milestones, self.gamma, self.warmup_factor,
                                         self.warmup_iters, self.warmup_method)
        return [base * factor for base in self.base_values]
