"""The noise-prediction loss of a training forward: one term per call, whatever checkpointing or copying.

Issue 10 items 2 (gradient checkpointing), 6 (one loss per call), 7 (deepcopy) and 10 (trainable flags
after fusion), on pure-PyTorch models; the expected losses are recomputed here from method.md's formula.
"""
import copy

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint
from toy_models import TinyResNet, TinyViT

from mmdenoiserep import add_denoisers, denoise_loss, denoiser_parameters, denoising_layers, fuse_denoisers, set_phase
from mmdenoiserep.core import freeze_running_stats, keeps_running_stats


def expected_loss(layer, inputs, seed):
    """method.md section 3, by hand: sum over the calls of l1 + l2 of A x_t + a against the noise."""
    generator = torch.Generator().manual_seed(seed)
    abar = layer.schedule.alpha_bar
    total = 0.0
    for x in inputs:
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        noisy = abar ** 0.5 * x + (1 - abar) ** 0.5 * noise
        if layer.denoiser.channel_dim == 1:
            pred = torch.einsum('ij,njhw->nihw', layer.denoiser.weight, noisy)
            pred = pred + (0 if layer.denoiser.bias is None else layer.denoiser.bias[:, None, None])
        else:
            pred = noisy @ layer.denoiser.weight.T + layer.denoiser.bias
        total = total + (pred - noise).abs().mean() + ((pred - noise) ** 2).mean()
    return total


class TwoViews(nn.Module):
    """One layer called on two views in one forward (shared module, two-view models)."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(6, 4)

    def forward(self, a, b):
        return torch.cat([self.shared(a), self.shared(b)])


def with_random_denoisers(model, std=0.3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in denoiser_parameters(model):
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * std)
    return model


@pytest.mark.parametrize('phase', ['denoise', 'joint'])
def test_layer_called_twice_counts_both_calls(phase):
    model = with_random_denoisers(add_denoisers(TwoViews().double()))
    set_phase(model, phase)
    a, b = torch.randn(3, 6, dtype=torch.float64), torch.randn(5, 6, dtype=torch.float64)
    model.train()(a, b)
    torch.manual_seed(7)  # the noise is drawn from the default generator in call order: replayed below
    loss = denoise_loss(model)
    torch.testing.assert_close(loss, expected_loss(model.shared, [a, b], seed=7), rtol=1e-12, atol=0)
    assert float(denoise_loss(model)) == 0.0  # collected once


class SometimesSkips(nn.Module):

    def __init__(self):
        super().__init__()
        self.first, self.optional = nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x, use_optional=True):
        x = self.first(x)
        return self.optional(x) if use_optional else x


def test_layer_skipped_in_a_forward_adds_nothing_and_backward_works():
    model = add_denoisers(SometimesSkips())
    set_phase(model, 'joint')
    model.train()
    x = torch.randn(2, 4)
    (model(x).sum() + denoise_loss(model)).backward()
    model.zero_grad()
    out = model(x, use_optional=False)
    per_layer = denoise_loss(model, per_layer=True)
    assert set(per_layer) == {'first'}
    (out.sum() + sum(per_layer.values())).backward()  # the old code re-added a freed graph here
    assert model.optional.denoiser.weight.grad is None


def test_noise_loss_trains_only_the_predictor():
    """No gradient of a layer's noise-prediction loss reaches the layers before it (x is detached)."""
    model = with_random_denoisers(add_denoisers(nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))))
    set_phase(model, 'joint')
    model.train()(torch.randn(6, 4))
    denoise_loss(model, per_layer=True)['2'].backward()
    assert model[0].weight.grad is None and model[0].denoiser.weight.grad is None
    assert model[2].weight.grad is None and model[2].denoiser.weight.grad.abs().sum() > 0


class CheckpointedBlocks(nn.Module):
    """A stem and two blocks run through torch.utils.checkpoint, as mmpretrain/mmdet do with with_cp."""

    def __init__(self, use_reentrant):
        super().__init__()
        self.use_reentrant = use_reentrant
        self.stem = nn.Conv2d(3, 6, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 6, 1))
                                    for _ in range(2))

    def forward(self, x, with_cp=True):
        x = self.stem(x)
        for block in self.blocks:
            x = x + (checkpoint(block, x, use_reentrant=self.use_reentrant) if with_cp else block(x))
        return x


@pytest.mark.parametrize('use_reentrant', [True, False])
def test_gradient_checkpointing_trains_every_denoiser(use_reentrant):
    model = with_random_denoisers(add_denoisers(CheckpointedBlocks(use_reentrant).double()))
    set_phase(model, 'joint')
    model.train()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    grads, losses = {}, {}
    for with_cp in (False, True):
        model.zero_grad()
        out = model(x, with_cp=with_cp)
        torch.manual_seed(3)
        per_layer = denoise_loss(model, per_layer=True)
        (out.square().mean() + sum(per_layer.values())).backward()  # re-runs the blocks under with_cp
        losses[with_cp] = {n: v.item() for n, v in per_layer.items()}
        grads[with_cp] = {n: p.grad for n, p in model.named_parameters() if 'denoiser' in n}
        assert all(not layer.recorded_inputs for _, layer in denoising_layers(model))  # recompute not recorded
    assert len(grads[True]) == 2 * len(denoising_layers(model)) == 10
    for name, grad in grads[False].items():  # every denoiser learns from its loss, checkpointed or not
        assert grads[True][name] is not None and grad.abs().sum() > 0, name
        torch.testing.assert_close(grads[True][name], grad, rtol=1e-10, atol=1e-12)
    assert losses[True] == pytest.approx(losses[False], rel=1e-12)


@pytest.mark.parametrize('phase', ['denoise', 'joint'])
def test_deepcopy_after_a_training_forward(phase):
    model = with_random_denoisers(add_denoisers(TinyViT()))
    set_phase(model, phase)
    x = torch.randn(2, 3, 8, 8)
    model.train()(x)
    copied = copy.deepcopy(model)  # e.g. an EMA copy made during training
    denoise_loss(model).backward()
    model.eval()
    fused = fuse_denoisers(copy.deepcopy(model))
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(copied.eval()(x), model(x))


def test_ema_model_of_a_training_model():
    from mmengine.model import ExponentialMovingAverage
    model = with_random_denoisers(add_denoisers(TinyResNet()))
    set_phase(model, 'joint')
    model.train()(torch.randn(2, 3, 8, 8))
    ema = ExponentialMovingAverage(model, momentum=0.5)  # deep-copies the model
    ema.update_parameters(model)


def test_fusion_restores_the_trainable_flags_of_before_the_denoise_phase():
    model = add_denoisers(TinyResNet())
    model.stem[0].weight.requires_grad_(False)  # frozen by the user (e.g. frozen_stages)
    model.fc.bias.requires_grad_(False)
    before = {name: p.requires_grad for name, p in model.named_parameters() if 'denoiser' not in name}
    set_phase(model, 'denoise')
    assert not any(p.requires_grad for name, p in model.named_parameters() if 'denoiser' not in name)
    fuse_denoisers(model)
    assert {name: p.requires_grad for name, p in model.named_parameters()} == before
    assert vars(model).keys() == vars(TinyResNet()).keys()  # no bookkeeping of the phases left on the model


def test_phase_change_drops_pending_gradients():
    """Gradient accumulation: what one phase accumulated is never applied by the next phase's step."""
    model = add_denoisers(TinyResNet())
    set_phase(model, 'finetune')
    model.train()
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    stock = [p for p in model.parameters() if p.grad is not None]
    assert stock
    set_phase(model, 'denoise')
    assert all(p.grad is None for p in stock)
    model(torch.randn(2, 3, 8, 8))
    denoise_loss(model).backward()
    assert all(p.grad is not None for p in denoiser_parameters(model))
    set_phase(model, 'finetune')
    assert all(p.grad is None for p in denoiser_parameters(model))


def norm_layers():
    """Builders of every kind of norm layer with running statistics that a backbone may hold."""
    from mmcv.cnn import build_norm_layer
    from mmengine.model.utils import _BatchNormXd
    layers = {
        'BatchNorm1d': lambda: nn.BatchNorm1d(4), 'BatchNorm2d': lambda: nn.BatchNorm2d(4),
        'BatchNorm3d': lambda: nn.BatchNorm3d(4), 'SyncBatchNorm': lambda: nn.SyncBatchNorm(4),
        'InstanceNorm2d': lambda: nn.InstanceNorm2d(4, track_running_stats=True),
        'BatchNormXd': lambda: _BatchNormXd(4),
    }
    for name in ('BN', 'BN1d', 'BN2d', 'BN3d', 'SyncBN', 'MMSyncBN'):  # the norm_cfg types of mmcv
        layers[f'norm_cfg={name}'] = lambda name=name: build_norm_layer(dict(type=name), 4)[1]
    layers['norm_cfg=IN'] = lambda: build_norm_layer(dict(type='IN', track_running_stats=True), 4)[1]
    return layers


NORM_LAYERS = norm_layers()


@pytest.mark.parametrize('name', sorted(NORM_LAYERS))
def test_every_norm_with_running_stats_is_frozen(name, process_group):  # mmcv's SyncBN needs a group
    import mmcv.ops  # noqa: F401  (registers MMSyncBN)
    norm = NORM_LAYERS[name]()
    model = nn.Sequential(nn.Identity(), norm, nn.Linear(4, 4), nn.LayerNorm(4)).train()
    assert keeps_running_stats(norm) and not keeps_running_stats(model[3])
    assert freeze_running_stats(model) == ['1']
    assert not norm.training and model.training and model[3].training
    assert not keeps_running_stats(nn.BatchNorm2d(4, track_running_stats=False))


def test_pop_noise_loss_takes_every_position_by_default_and_forgets_the_calls(monkeypatch):
    layer = add_denoisers(nn.Sequential(nn.Linear(3, 2)).double())[0]
    with torch.no_grad():
        layer.denoiser.weight.normal_()
    inputs = [torch.randn(4, 3, dtype=torch.float64), torch.randn(2, 5, 3, dtype=torch.float64)]
    layer.train()
    for x in inputs:
        layer(x)
    generator = torch.Generator().manual_seed(3)
    monkeypatch.setattr(torch, 'randn_like', lambda t: torch.randn(t.shape, generator=generator, dtype=t.dtype))
    loss = layer.pop_noise_loss()
    torch.testing.assert_close(loss, expected_loss(layer, inputs, seed=3), rtol=1e-12, atol=0)
    assert layer.recorded_inputs == [] and layer.pop_noise_loss() is None
