"""The noise-prediction loss and the schedule against method.md's formulas, computed here element by element.

A large beta (abar_t = 0.612 instead of ~0.99 for the default schedule) makes every power of abar, every
coefficient and every reduction visible: a wrong exponent or sign changes the loss by far more than the
tolerance. The noise is fixed (``torch.randn_like`` patched), so the loss is a deterministic number.
"""
import math

import pytest
import torch
from torch import nn

from mmdenoiserep.core import step_coefficients
from mmdenoiserep.core.layers import DenoisingConv2d, DenoisingLinear

BETAS = (0.1, 0.15, 0.2, 0.25, 0.3)  # linspace(0.1, 0.3, 5)
STEP = 3


def test_schedule_coefficients_by_hand():
    coefficients = step_coefficients(STEP, num_steps=5, beta_range=(0.1, 0.3))
    beta = BETAS[STEP - 1]
    alpha_bar = math.prod(1 - b for b in BETAS[:STEP])  # 0.9 * 0.85 * 0.8
    assert coefficients.step == STEP
    assert coefficients.beta == pytest.approx(beta, rel=1e-12)
    assert coefficients.alpha_bar == pytest.approx(alpha_bar, rel=1e-12)
    assert coefficients.c3 == pytest.approx(1 / math.sqrt(1 - beta), rel=1e-12)
    assert coefficients.c1 == pytest.approx(beta / (math.sqrt(1 - alpha_bar) * math.sqrt(1 - beta)), rel=1e-12)



def test_schedule_defaults_and_boundaries():
    """Defaults T = 1000, beta in [1e-4, 2e-3] (the authors'); steps 1 and T, a constant beta are valid."""
    first, last = step_coefficients(1), step_coefficients(1000)
    assert (first.beta, last.beta) == (pytest.approx(1e-4, rel=1e-12), pytest.approx(2e-3, rel=1e-12))
    assert first.alpha_bar == pytest.approx(1 - 1e-4, rel=1e-12)
    assert step_coefficients(2, 2, (0.1, 0.1)).alpha_bar == pytest.approx(0.81, rel=1e-12)
    assert step_coefficients(5, 5, [0.1, 0.3]).beta == pytest.approx(0.3, rel=1e-12)
    assert step_coefficients(1, 1, (0.1, 0.2)).beta == pytest.approx(0.1, rel=1e-12)  # one step: beta_start


@pytest.mark.parametrize('args, message', [
    ((0, 10), 'step must be in [1, 10], got 0'),
    ((11, 10), 'step must be in [1, 10], got 11'),
    ((1, 0), 'num_steps must be a positive int, got 0'),
    ((1, 10.0), 'num_steps must be a positive int, got 10.0'),
    ((1, 10, (0.2, 0.1)), 'beta_range must satisfy 0 < start <= end < 1, got (0.2, 0.1)'),
    ((1, 10, (0.0, 0.1)), 'beta_range must satisfy 0 < start <= end < 1, got (0.0, 0.1)'),
    ((1, 10, (0.1, 1.0)), 'beta_range must satisfy 0 < start <= end < 1, got (0.1, 1.0)'),
])
def test_schedule_refuses_bad_arguments(args, message):
    with pytest.raises(ValueError) as raised:
        step_coefficients(*args)
    assert str(raised.value) == message

def by_hand(x, noise, weight, bias, alpha_bar, kind, channel_dim):
    """method.md section 3: x_t = sqrt(abar) x + sqrt(1 - abar) eps, eps_hat = A x_t + a (per position,
    a loop over channels), loss = mean |eps_hat - eps| + mean (eps_hat - eps)^2 ('l1+l2')."""
    noisy = math.sqrt(alpha_bar) * x + math.sqrt(1 - alpha_bar) * noise
    noisy, target = noisy.movedim(channel_dim, -1), noise.movedim(channel_dim, -1)  # (..., C)
    predicted = torch.zeros_like(noisy)
    for i in range(weight.shape[0]):
        predicted[..., i] = sum(weight[i, j] * noisy[..., j] for j in range(weight.shape[1])) + bias[i]
    error = predicted - target
    l1, l2 = error.abs().sum() / error.numel(), (error * error).sum() / error.numel()
    return {'l1+l2': l1 + l2, 'l1': l1, 'l2': l2}[kind]


@pytest.mark.parametrize('kind', ['l1+l2', 'l1', 'l2'])
@pytest.mark.parametrize('layer_type', ['linear', 'conv'])
def test_loss_equals_the_hand_computation_with_fixed_noise_and_large_beta(kind, layer_type, monkeypatch):
    torch.manual_seed(0)
    coefficients = step_coefficients(STEP, num_steps=5, beta_range=(0.1, 0.3))
    if layer_type == 'linear':
        layer = DenoisingLinear.from_plain(nn.Linear(4, 3).double(), coefficients, noise_loss=kind)
        x, channel_dim = torch.randn(2, 5, 4, dtype=torch.float64) * 2 + 1, -1
    else:
        layer = DenoisingConv2d.from_plain(nn.Conv2d(4, 3, 3).double(), coefficients, noise_loss=kind)
        x, channel_dim = torch.randn(2, 4, 5, 6, dtype=torch.float64) * 2 + 1, 1
    with torch.no_grad():
        layer.denoiser.weight.copy_(torch.randn(4, 4, dtype=torch.float64) * 0.5)
        layer.denoiser.bias.copy_(torch.randn(4, dtype=torch.float64) * 0.5)
    noise = torch.randn_like(x)
    monkeypatch.setattr(torch, 'randn_like', lambda t: noise.clone())
    loss = layer.noise_prediction_loss(x)
    expected = by_hand(x, noise, layer.denoiser.weight.detach(), layer.denoiser.bias.detach(),
                       math.prod(1 - b for b in BETAS[:STEP]), kind, channel_dim)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=0)
    loss.backward()  # the denoiser is what the loss trains
    assert layer.denoiser.weight.grad.abs().sum() > 0 and layer.weight.grad is None


@pytest.mark.parametrize('layer_type', ['linear', 'conv'])
def test_loss_on_drawn_positions_by_hand(layer_type, monkeypatch):
    """positions < 1: the loss over the positions torch.randperm drew (patched: a fixed order), all channels."""
    torch.manual_seed(1)
    coefficients = step_coefficients(STEP, num_steps=5, beta_range=(0.1, 0.3))
    if layer_type == 'linear':
        layer = DenoisingLinear.from_plain(nn.Linear(4, 3).double(), coefficients)
        x = torch.randn(2, 5, 4, dtype=torch.float64)
        rows = x.reshape(10, 4)  # position p = (sample, token)
    else:
        layer = DenoisingConv2d.from_plain(nn.Conv2d(4, 3, 1).double(), coefficients)
        x = torch.randn(2, 4, 2, 3, dtype=torch.float64)
        rows = x.permute(0, 2, 3, 1).reshape(12, 4)  # position p = (sample, row, column)
    with torch.no_grad():
        layer.denoiser.weight.copy_(torch.randn(4, 4, dtype=torch.float64) * 0.5)
        layer.denoiser.bias.copy_(torch.randn(4, dtype=torch.float64) * 0.5)
    order = torch.arange(rows.shape[0]).flip(0).roll(3)  # a fixed permutation, not the identity
    monkeypatch.setattr(torch, 'randperm', lambda n, **kwargs: order[:n].clone())
    kept = order[:round(0.4 * rows.shape[0])]  # 4 of 10, 5 of 12 positions
    noise = torch.randn(len(kept), 4, dtype=torch.float64)
    monkeypatch.setattr(torch, 'randn_like', lambda t: noise.clone())
    loss = layer.noise_prediction_loss(x, positions=0.4)
    expected = by_hand(rows[kept], noise, layer.denoiser.weight.detach(), layer.denoiser.bias.detach(),
                       coefficients.alpha_bar, 'l1+l2', -1)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=0)
