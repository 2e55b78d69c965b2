"""The denoisers' own learning rate (DenoiseRepOptimWrapperConstructor), timm's cosine schedule (TimmCosineLR)
and the learned-fraction measure (zero_predictor_loss, LearnedFraction), against hand computations."""
import math

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from torch import nn

from mmdenoiserep import add_denoisers, denoiser_parameters
from mmdenoiserep.core import DenoisingLinear, step_coefficients
from mmdenoiserep.engine import LearnedFraction, TimmCosineLR


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)
        self.out = nn.Linear(4, 2, bias=False)

    def forward(self, x):
        return self.out(self.norm(self.fc(x)))


def groups(model, **paramwise):
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-2),
        constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor', paramwise_cfg=paramwise))
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(g['params'][0])]: (g['lr'], g['weight_decay']) for g in wrapper.optimizer.param_groups}


def test_denoisers_train_at_their_own_lr_and_the_rest_by_the_default_rules():
    model = add_denoisers(Net(), example_inputs=torch.zeros(1, 4))
    got = groups(model, bias_lr_mult=2.0, norm_decay_mult=0.0, bias_decay_mult=0.5, denoiser_lr_mult=4.0)
    assert got == {
        'fc.weight': (0.1, 1e-2), 'fc.bias': (0.2, 5e-3),
        'fc.denoiser.weight': (0.4, 1e-2), 'fc.denoiser.bias': (0.4, 5e-3),  # lr replaced, decay by the rules
        'norm.weight': (0.1, 0.0), 'norm.bias': (0.1, 0.0),
        'out.weight': (0.1, 1e-2), 'out.denoiser.weight': (0.4, 1e-2)}


def test_without_denoisers_or_paramwise_options_the_groups_are_the_default_ones():
    plain = Net()
    assert groups(plain, denoiser_lr_mult=4.0) == {n: (0.1, 1e-2) for n, _ in plain.named_parameters()}
    model = add_denoisers(Net(), example_inputs=torch.zeros(1, 4))
    assert set(groups(model).values()) == {(0.1, 1e-2)}  # multiplier 1 by default
    assert len(denoiser_parameters(model)) == 3


@pytest.mark.parametrize('mult', [0, -1.0, '4', True])
def test_a_bad_multiplier_is_refused(mult):
    with pytest.raises(ValueError, match=f'denoiser_lr_mult must be a positive number, got {mult!r}'):
        groups(Net(), denoiser_lr_mult=mult)


def lrs(steps, **kwargs):
    params = [nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.SGD([{'params': [params[0]], 'lr': 1e-4}, {'params': [params[1]], 'lr': 4e-4}], lr=1)
    scheduler = TimmCosineLR(optimizer, **kwargs)
    values = []
    for _ in range(steps):
        values.append([g['lr'] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return values


def test_timm_cosine_with_the_warm_up_inside_by_hand():
    """TransReID-SSL's schedule (t_initial 240, warm-up 20 from 1e-6, to 2e-7), values computed by hand."""
    got = lrs(242, t_initial=240, warmup_t=20, warmup_lr_init=1e-6, lr_min=2e-7)
    assert got[0] == pytest.approx([1e-6, 1e-6])  # one absolute start for every group
    assert got[10] == pytest.approx([1e-6 + 10 * (1e-4 - 1e-6) / 20, 1e-6 + 10 * (4e-4 - 1e-6) / 20])
    cos20 = (1 + math.cos(math.pi / 12)) / 2  # epoch 20 of 240: the cosine has already begun
    assert got[20] == pytest.approx([2e-7 + (1e-4 - 2e-7) * cos20, 2e-7 + (4e-4 - 2e-7) * cos20])
    assert got[120] == pytest.approx([2e-7 + (1e-4 - 2e-7) / 2, 2e-7 + (4e-4 - 2e-7) / 2])
    assert got[240] == got[241] == pytest.approx([2e-7, 2e-7])


def test_timm_cosine_with_a_warm_up_prefix_by_hand():
    """Swin's schedule: the cosine runs over the steps after the warm-up."""
    got = lrs(12, t_initial=10, warmup_t=4, warmup_lr_init=0.0, lr_min=0.0, warmup_prefix=True)
    assert [g[0] for g in got[:4]] == pytest.approx([0, 2.5e-5, 5e-5, 7.5e-5])
    assert got[4][0] == pytest.approx(1e-4) and got[7][0] == pytest.approx(5e-5)  # cos(pi * 3 / 6) = 0
    assert got[10] == got[11] == pytest.approx([0.0, 0.0])


def test_timm_cosine_converts_epochs_to_iterations():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1e-3)
    scheduler = TimmCosineLR.build_iter_from_epoch(optimizer, t_initial=3, warmup_t=1, warmup_lr_init=0.0,
                                                   lr_min=0.0, warmup_prefix=True, epoch_length=5)
    assert (scheduler.t_initial, scheduler.warmup_t, scheduler.by_epoch) == (15, 5, False)


@pytest.mark.parametrize('kwargs, message', [
    (dict(t_initial=0), 't_initial must be a positive int, got 0'),
    (dict(t_initial=10, warmup_t=10), r'warmup_t must be an int in \[0, t_initial\), got 10'),
    (dict(t_initial=10, lr_min=-1.0), 'lr_min and warmup_lr_init must be >= 0'),
    (dict(t_initial=10, t_offset=-1), 't_offset must be an int >= 0, got -1'),
])
def test_timm_cosine_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TimmCosineLR(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), **kwargs)


def test_zero_predictor_loss_is_taken_on_the_same_noise(monkeypatch):
    """pop_noise_loss also gives the zero predictor's loss on the noise it drew: mean|eps| + mean eps^2 summed
    over the calls; a fresh denoiser (A = 0, a = 0) scores it exactly."""
    coefficients = step_coefficients(3, num_steps=10)
    layer = DenoisingLinear.from_plain(nn.Linear(4, 3).double(), coefficients).train()
    layer.phase = 'denoise'
    draws = [torch.randn(2, 5, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)]
    inputs = [torch.randn(2, 5, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)]
    noise = iter(draws)
    monkeypatch.setattr(torch, 'randn_like', lambda t: next(noise).clone())
    for x in inputs:
        layer(x)
    loss = layer.pop_noise_loss()
    expected = sum(e.abs().mean() + (e ** 2).mean() for e in draws)
    torch.testing.assert_close(layer.zero_predictor_loss, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=0)  # the initial denoiser is the zero one
    assert not layer.zero_predictor_loss.requires_grad
    assert layer.pop_noise_loss() is None and layer.zero_predictor_loss is None


def test_learned_fraction_windows_and_closing_table():
    model = add_denoisers(Net(), example_inputs=torch.zeros(1, 4))
    monitor = LearnedFraction()
    assert monitor.close_window() == {} and monitor.window is None
    assert monitor.table(model) == 'denoisers learned: no noise-prediction loss was recorded in this run'
    assert monitor.summary({}) == 'denoisers learned: no noise-prediction loss recorded yet'
    monitor.add({'fc': (torch.tensor(1.0), torch.tensor(2.0)), 'out': (torch.tensor(3.0), torch.tensor(3.0))}, 7)
    monitor.add({'fc': (torch.tensor(0.5), torch.tensor(2.0))}, 8)
    assert monitor.close_window() == {'fc': 1.5 / 4.0, 'out': 1.0} and monitor.window == (7, 8)
    monitor.add({'fc': (torch.tensor(1.0), torch.tensor(1.0))}, 9)
    table = monitor.table(model).splitlines()  # closes the open window first
    assert table[0] == ('denoisers learned, iterations 9-9 (loss / zero predictor on the same noise, 1.0 = nothing '
                        'learned):')
    assert table[1] == 'layer' + ' ' * 43 + ' ' + ' step' + ' ' + '   noise' + ' ' + '   ratio'  # widths 48, 5, 8, 8
    fc_noise = (1 - model.fc.schedule.alpha_bar) ** 0.5
    assert table[2].split() == ['fc', '2', f'{fc_noise:.4f}', '1.0000']
    assert table[3].split() == ['out', '1', f'{(1 - model.out.schedule.alpha_bar) ** 0.5:.4f}', '-']
    assert table[4] == ('denoisers learned: loss / zero predictor (1.0 = nothing learned) mean 1.0000, min 1.0000 '
                        '(fc), 0 of 1 layers below 0.99')


def test_iterations_without_losses_open_no_window():
    monitor = LearnedFraction()
    monitor.add({'fc': (torch.tensor(1.0), torch.tensor(2.0))}, 3)
    monitor.add({}, 4)  # a finetune iteration
    monitor.close_window()
    assert monitor.window == (3, 3)
    monitor.add({}, 5)
    assert monitor.close_window() == {} and monitor.window == (3, 3)


def test_timm_cosine_defaults_and_epoch_conversion():
    from mmdenoiserep.engine import timm_cosine_lr
    assert timm_cosine_lr(15, 1.0, 20, 0.0, 10, 0.0) == pytest.approx((1 + math.cos(math.pi * 15 / 20)) / 2)
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = TimmCosineLR(optimizer, t_initial=10)
    assert (scheduler.by_epoch, scheduler.warmup_t, scheduler.warmup_prefix, scheduler.lr_min) == (True, 0, False, 0.0)
    scheduler = TimmCosineLR.build_iter_from_epoch(optimizer, t_initial=3, begin=2, end=5, epoch_length=1)
    assert (scheduler.t_initial, scheduler.begin, scheduler.end) == (3, 2, 5)
    scheduler = TimmCosineLR.build_iter_from_epoch(optimizer, t_initial=3, begin=2, end=5, epoch_length=4)
    assert (scheduler.t_initial, scheduler.begin, scheduler.end) == (12, 8, 20)
    for kwargs in (dict(by_epoch=False, epoch_length=4), dict(epoch_length=0), dict()):
        with pytest.raises(ValueError, match='convert_to_iter_based needs by_epoch=True and a positive epoch_length'):
            TimmCosineLR.build_iter_from_epoch(optimizer, t_initial=3, **kwargs)
