"""CLIP-ReID's schedules under mmengine: every epoch's LR equals what CLIP-ReID's loops use, computed by
re-implementations of their schedulers (timm's CosineLRScheduler._get_lr as solver/cosine_lr.py has it, and
solver/lr_scheduler.py's WarmupMultiStepLR as a torch scheduler), stepped as processor_clipreid_stage{1,2}.py
step them."""
import math
from bisect import bisect_right

import pytest
import torch
from mmengine.optim import OptimWrapper

from mmdenoiserep.engine import CLIPReIDCosineLR, CLIPReIDWarmupMultiStepLR


def optimizer(lr):
    """Two groups: a weight at lr and a bias at 2 lr (BIAS_LR_FACTOR)."""
    params = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    return OptimWrapper(torch.optim.Adam([dict(params=[params[0]], lr=lr), dict(params=[params[1]], lr=2 * lr)]))


def mmengine_epoch_lrs(wrapper, scheduler, epochs):
    """The LR of each group during each epoch: mmengine steps by-epoch schedulers after every epoch."""
    lrs = []
    for _ in range(epochs):
        lrs.append([g['lr'] for g in wrapper.optimizer.param_groups])
        wrapper.step()
        scheduler.step()
    return lrs


def assert_lrs(actual, expected):
    torch.testing.assert_close(torch.tensor(actual, dtype=torch.float64), torch.tensor(expected, dtype=torch.float64),
                               rtol=1e-12, atol=0)


def timm_cosine(t, base, t_initial=120, lr_min=1e-6, warmup_t=5, warmup_lr_init=1e-5):
    """solver/cosine_lr.py CosineLRScheduler._get_lr (t_mul 1, decay_rate 0.1, cycle_limit 1, no warmup prefix)."""
    if t < warmup_t:
        return warmup_lr_init + t * (base - warmup_lr_init) / warmup_t
    i = t // t_initial
    t_curr = t - t_initial * i
    if i < 1:
        lr_min_i, lr_max = lr_min * 0.1 ** i, base * 0.1 ** i
        return lr_min_i + 0.5 * (lr_max - lr_min_i) * (1 + math.cos(math.pi * t_curr / t_initial))
    return lr_min


def test_stage1_cosine_is_clip_reid_s():
    """Stage 1: ``for epoch in range(1, 121): scheduler.step(epoch)`` before the epoch's iterations."""
    wrapper = optimizer(3.5e-4)
    scheduler = CLIPReIDCosineLR(wrapper, t_initial=120, lr_min=1e-6, warmup_t=5, warmup_lr_init=1e-5,
                                 by_epoch=True, begin=0, end=120)
    actual = mmengine_epoch_lrs(wrapper, scheduler, 120)
    expected = [[timm_cosine(epoch, 3.5e-4), timm_cosine(epoch, 7e-4)] for epoch in range(1, 121)]
    assert_lrs(actual, expected)
    assert actual[-1] == [1e-6, 1e-6]  # epoch 120 is t = t_initial: lr_min


class ReferenceWarmupMultiStepLR(torch.optim.lr_scheduler.LRScheduler):
    """solver/lr_scheduler.py WarmupMultiStepLR, as CLIP-ReID defines it."""

    def __init__(self, optimizer, milestones, gamma, warmup_factor, warmup_iters, warmup_method):
        self.milestones, self.gamma = milestones, gamma
        self.warmup_factor, self.warmup_iters, self.warmup_method = warmup_factor, warmup_iters, warmup_method
        super().__init__(optimizer)

    def get_lr(self):
        warmup_factor = 1
        if self.last_epoch < self.warmup_iters:
            if self.warmup_method == 'constant':
                warmup_factor = self.warmup_factor
            elif self.warmup_method == 'linear':
                alpha = self.last_epoch / self.warmup_iters
                warmup_factor = self.warmup_factor * (1 - alpha) + alpha
        return [base_lr * warmup_factor * self.gamma ** bisect_right(self.milestones, self.last_epoch)
                for base_lr in self.base_lrs]


@pytest.mark.parametrize('method', ['linear', 'constant'])
def test_stage2_warmup_multistep_is_clip_reid_s(method):
    """Stage 2: the constructor steps once, then ``scheduler.step()`` before each of the 60 epochs."""
    reference_optimizer = optimizer(5e-6).optimizer
    reference = ReferenceWarmupMultiStepLR(reference_optimizer, [30, 50], 0.1, 0.1, 10, method)
    expected = []
    for _ in range(60):
        reference_optimizer.step()
        reference.step()
        expected.append([g['lr'] for g in reference_optimizer.param_groups])
    wrapper = optimizer(5e-6)
    scheduler = CLIPReIDWarmupMultiStepLR(wrapper, milestones=[30, 50], gamma=0.1, warmup_factor=0.1,
                                          warmup_iters=10, warmup_method=method, by_epoch=True, end=60)
    assert_lrs(mmengine_epoch_lrs(wrapper, scheduler, 60), expected)
    assert expected[0][0] == pytest.approx(5e-6 * (0.1 * 0.9 + 0.1) if method == 'linear' else 5e-7)


def test_a_schedule_that_begins_later_counts_its_epochs_from_its_begin():
    """In the two-stage run, stage 2's schedule begins after stage 1's epochs: its first epoch is its epoch 1."""
    wrapper = optimizer(5e-6)
    scheduler = CLIPReIDWarmupMultiStepLR(wrapper, milestones=[3], gamma=0.1, warmup_factor=0.1, warmup_iters=2,
                                          by_epoch=True, begin=4, end=9)
    lrs = [lr for lr, _ in mmengine_epoch_lrs(wrapper, scheduler, 9)]
    factors = [0.55, 1.0, 0.1, 0.1, 0.1]  # e = 1: 0.1 x 0.5 + 0.5; e = 2: 1; e >= 3: x 0.1
    assert_lrs(lrs, [5e-6] * 4 + [5e-6 * f for f in factors])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='increasing'):
        CLIPReIDWarmupMultiStepLR(optimizer(1.0), milestones=[50, 30])
    with pytest.raises(ValueError, match='warmup_method'):
        CLIPReIDWarmupMultiStepLR(optimizer(1.0), milestones=[3], warmup_method='cosine')
    with pytest.raises(ValueError, match='warmup_iters'):
        CLIPReIDWarmupMultiStepLR(optimizer(1.0), milestones=[3], warmup_iters=-1)
