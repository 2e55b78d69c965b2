"""mmdenoiserep.PostBackboneDenoiser against the reverse step and the DDPM loss written out here (method.md
sections 2-4, float64): one step t = 1 of the linear schedule on the backbone's output feature."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmdenoiserep import denoise_loss, denoising_layers, fuse_denoisers, set_phase
from mmdenoiserep.models import PostBackboneDenoiser
from mmdenoiserep.utils import InputError

C = 6
BETA_START, BETA_END, STEPS = 1e-4, 2e-3, 1000


def reference_coefficients():
    """(abar, c3, c1) of step t = 1: beta_1 = beta_start (the first of linspace(beta_start, beta_end, T))."""
    beta = BETA_START
    alpha = 1.0 - beta
    abar = alpha  # the product over j <= 1
    return abar, 1.0 / math.sqrt(alpha), beta / (math.sqrt(1.0 - abar) * math.sqrt(alpha))


def neck_with_denoiser(seed=0):
    """A float64 neck whose denoiser holds non-trivial A, a (a fresh one is zero: x_hat = c3 f hides bugs)."""
    neck = PostBackboneDenoiser(C, num_steps=STEPS, beta_range=(BETA_START, BETA_END)).double()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        neck.reverse_step.denoiser.weight.copy_(torch.randn(C, C, generator=generator, dtype=torch.float64))
        neck.reverse_step.denoiser.bias.copy_(torch.randn(C, generator=generator, dtype=torch.float64))
    return neck


def test_eval_output_is_the_reverse_step_on_the_last_feature():
    neck = neck_with_denoiser().eval()
    other, feature = torch.randn(3, 2, C, dtype=torch.float64), torch.randn(5, C, dtype=torch.float64)
    outputs = neck((other, feature))
    _, c3, c1 = reference_coefficients()
    a_matrix, a_bias = neck.reverse_step.denoiser.weight.detach(), neck.reverse_step.denoiser.bias.detach()
    expected = c3 * feature - c1 * (feature @ a_matrix.T + a_bias)
    assert len(outputs) == 2 and outputs[0] is other  # only the last output is the denoised feature
    torch.testing.assert_close(outputs[1], expected, rtol=0, atol=1e-14)
    torch.testing.assert_close(neck(feature)[0], expected, rtol=0, atol=1e-14)  # a bare tensor: a 1-tuple


def test_denoise_phase_passes_the_feature_and_trains_on_the_ddpm_loss():
    neck = neck_with_denoiser().train()
    set_phase(neck, 'denoise')
    feature = torch.randn(8, C, dtype=torch.float64)
    assert torch.equal(neck(feature)[0], feature)  # the network as trained: f unchanged
    torch.manual_seed(3)
    loss = denoise_loss(neck)
    torch.manual_seed(3)
    noise = torch.randn_like(feature)  # the layer draws its noise the same way
    abar, _, _ = reference_coefficients()
    noisy = math.sqrt(abar) * feature + math.sqrt(1.0 - abar) * noise
    predicted = noisy @ neck.reverse_step.denoiser.weight.detach().T + neck.reverse_step.denoiser.bias.detach()
    expected = (predicted - noise).abs().mean() + ((predicted - noise) ** 2).mean()  # l1 + l2 (the authors')
    torch.testing.assert_close(loss, expected, rtol=0, atol=1e-12)
    loss.backward()
    assert neck.reverse_step.denoiser.weight.grad is not None
    assert neck.reverse_step.weight.grad is None and not neck.reverse_step.weight.requires_grad  # W = I stays


def test_finetune_phase_trains_the_network_through_x_hat_not_the_denoiser():
    neck = neck_with_denoiser().train()
    set_phase(neck, 'finetune')
    feature = torch.randn(4, C, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(4, C, dtype=torch.float64)
    (neck(feature)[0] * upstream).sum().backward()
    _, c3, c1 = reference_coefficients()
    step = c3 * torch.eye(C, dtype=torch.float64) - c1 * neck.reverse_step.denoiser.weight.detach()
    torch.testing.assert_close(feature.grad, upstream @ step, rtol=0, atol=1e-14)  # d x_hat / d f
    assert all(p.grad is None for p in neck.parameters())  # the denoiser frozen, W = I and b = 0 frozen
    assert denoise_loss(neck) == 0  # no call recorded in finetune


def test_its_fused_form_is_one_linear_layer_holding_the_step():
    neck = neck_with_denoiser()
    fused = fuse_denoisers(copy.deepcopy(neck)).reverse_step
    assert type(fused) is nn.Linear  # the deployed form: the baseline plus this C x C layer
    _, c3, c1 = reference_coefficients()
    a_matrix = neck.reverse_step.denoiser.weight.detach()
    torch.testing.assert_close(fused.weight.detach(), c3 * torch.eye(C, dtype=torch.float64) - c1 * a_matrix,
                               rtol=0, atol=1e-14)
    torch.testing.assert_close(fused.bias.detach(), -c1 * neck.reverse_step.denoiser.bias.detach(), rtol=0, atol=1e-14)
    feature = torch.randn(3, C, dtype=torch.float64)
    torch.testing.assert_close(F.linear(feature, fused.weight, fused.bias), neck.eval()(feature)[0], rtol=0, atol=1e-14)


def test_the_identity_survives_an_init_cfg_that_matches_linear_layers():
    neck = PostBackboneDenoiser(C, init_cfg=dict(type='Normal', layer='Linear', std=1.0))
    neck.init_weights()
    assert torch.equal(neck.reverse_step.weight, torch.eye(C)) and torch.equal(neck.reverse_step.bias, torch.zeros(C))
    assert neck.reverse_step.step == 1 and [name for name, _ in denoising_layers(neck)] == ['reverse_step']


def test_bad_input_is_a_one_line_error():
    with pytest.raises(InputError, match='in_channels must be a positive int'):
        PostBackboneDenoiser(0)
    with pytest.raises(InputError, match=r'expected the last backbone output of shape \(N, 6\), got \(2, 6, 4\)'):
        PostBackboneDenoiser(C)((torch.zeros(2, C, 4),))
