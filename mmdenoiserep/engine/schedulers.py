"""``mmdenoiserep.TimmCosineLR``: timm's ``CosineLRScheduler`` (one cycle) for mmengine, as the authors' code uses it.

One cosine cycle of ``t_initial`` steps with a linear warm-up of ``warmup_t`` steps, from an absolute
``warmup_lr_init`` to an absolute ``lr_min`` shared by every param group. For param group g with initial LR
base_g, at step t (0 for the first epoch or iteration):

    lr_g(t) = warmup_lr_init + t (base_g - warmup_lr_init) / warmup_t          t < warmup_t
    lr_g(t) = lr_min + (base_g - lr_min) (1 + cos(pi u / T)) / 2               u < T
    lr_g(t) = lr_min                                                           u >= T

with u = t, T = t_initial (the warm-up *inside* the cosine: TransReID-SSL, RG12138/DenoiseRep
Person-ReID/TransReID-SSL/transreid_pytorch/solver/scheduler_factory.py, stepped per epoch) or, with
``warmup_prefix=True``, u = t - warmup_t, T = t_initial - warmup_t (Swin-Transformer, RG12138/DenoiseRep
Classification/imagenet/Swin-Transformer/lr_scheduler.py, stepped per iteration: ``convert_to_iter_based``).
mmengine's LinearLR + CosineAnnealingLR express neither exactly: their warm-up reaches the full LR one step
early and starts from a fraction of each group's LR, and their cosine restarts at its ``begin``.
"""
import math

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from ..registry import PARAM_SCHEDULERS

__all__ = ['TimmCosineLR', 'timm_cosine_lr']


def timm_cosine_lr(t: int, base: float, t_initial: int, lr_min: float, warmup_t: int, warmup_lr_init: float,
                   warmup_prefix: bool = False) -> float:
    """lr_g(t) of the module docstring (timm ``CosineLRScheduler._get_lr``, cycle_limit 1, t_mul 1)."""
    if t < warmup_t:
        return warmup_lr_init + t * (base - warmup_lr_init) / warmup_t
    if warmup_prefix:
        t, t_initial = t - warmup_t, t_initial - warmup_t
    if t >= t_initial:
        return lr_min
    return lr_min + 0.5 * (base - lr_min) * (1 + math.cos(math.pi * t / t_initial))


@PARAM_SCHEDULERS.register_module()
class TimmCosineLR(LRSchedulerMixin, _ParamScheduler):
    """See the module docstring.

    Args:
        optimizer: the optimizer (wrapper).
        t_initial (int): length of the cosine, in steps (epochs when ``by_epoch``): TransReID-SSL's MAX_EPOCHS.
        lr_min (float): the absolute final LR (TransReID-SSL: 0.002 x BASE_LR).
        warmup_t (int): warm-up steps (WARMUP_EPOCHS). Defaults to 0.
        warmup_lr_init (float): the absolute LR of step 0 when warming up (0.01 x BASE_LR).
        warmup_prefix (bool): the cosine starts after the warm-up (see the module). Defaults to False.
        t_offset (int): steps added to the count: 1 for TransReID, whose processor.py steps timm's scheduler with
            the 1-based epoch before each epoch (epoch e from 0 at t = e + 1). Defaults to 0.
        begin, end, last_step, by_epoch, verbose: as mmengine's schedulers.
    """

    def __init__(self, optimizer, t_initial: int, lr_min: float = 0.0, warmup_t: int = 0,
                 warmup_lr_init: float = 0.0, warmup_prefix: bool = False, t_offset: int = 0, begin: int = 0,
                 end: int = INF,
                 last_step: int = -1, by_epoch: bool = True, verbose: bool = False):
        if not isinstance(t_initial, int) or t_initial < 1:
            raise ValueError(f't_initial must be a positive int, got {t_initial!r}')
        if not isinstance(warmup_t, int) or not 0 <= warmup_t < t_initial:
            raise ValueError(f'warmup_t must be an int in [0, t_initial), got {warmup_t!r}')
        if lr_min < 0 or warmup_lr_init < 0:
            raise ValueError(f'lr_min and warmup_lr_init must be >= 0, got {lr_min!r}, {warmup_lr_init!r}')
        self.t_initial, self.lr_min = t_initial, float(lr_min)
        self.warmup_t, self.warmup_lr_init = warmup_t, float(warmup_lr_init)
        self.warmup_prefix = bool(warmup_prefix)
        if not isinstance(t_offset, int) or t_offset < 0:
            raise ValueError(f't_offset must be an int >= 0, got {t_offset!r}')
        self.t_offset = t_offset
        super().__init__(optimizer, begin=begin, end=end, last_step=last_step, by_epoch=by_epoch, verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls, *args, t_initial: int, warmup_t: int = 0, begin: int = 0, end: int = INF,
                              by_epoch: bool = True, epoch_length: int = None, **kwargs):
        """The same schedule in iterations (``convert_to_iter_based=True``): t_initial and warmup_t in epochs."""
        if not by_epoch or not epoch_length or epoch_length < 1:
            raise ValueError(f'convert_to_iter_based needs by_epoch=True and a positive epoch_length, got '
                             f'{by_epoch!r}, {epoch_length!r}')
        return cls(*args, t_initial=t_initial * epoch_length, warmup_t=warmup_t * epoch_length,
                   begin=begin * epoch_length, end=end if end == INF else end * epoch_length, by_epoch=False,
                   **kwargs)

    def _get_value(self):
        return [timm_cosine_lr(self.last_step + self.t_offset, base, self.t_initial, self.lr_min, self.warmup_t,
                               self.warmup_lr_init, self.warmup_prefix) for base in self.base_values]
