"""What makes DenoiseRep cheaper without changing what it computes: W' reused in evaluation
(fused_weights_cached), the noise-prediction loss estimated on a subset of positions, and the
backbone-only denoise phase of DenoiseRepHook."""
import contextlib
import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from mmdenoiserep import add_denoisers, denoise_loss, denoising_layers, fused_weights_cached, set_phase
from mmdenoiserep.core.layers import NOISE_LOSSES


def small_net(dtype=torch.float64):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, groups=2), nn.Flatten(),
                        nn.Linear(8 * 4 * 4, 5)).to(dtype)
    add_denoisers(net, example_inputs=torch.randn(1, 3, 6, 6, dtype=dtype))
    for _, layer in denoising_layers(net):
        with torch.no_grad():
            layer.denoiser.weight.normal_(0, 0.3)
            layer.denoiser.bias.normal_(0, 0.3)
    return net.eval()


def counting(net, monkeypatch):
    """Count calls of fused_weights (the C x C product)."""
    calls = []
    for _, layer in denoising_layers(net):
        original = layer.fused_weights
        monkeypatch.setattr(layer, 'fused_weights', lambda original=original: calls.append(1) or original())
    return calls


def test_cache_scope_uses_no_w_prime_from_before_and_leaves_none(monkeypatch):
    net = small_net()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    calls = counting(net, monkeypatch)
    with torch.no_grad():
        expected = net(x)  # eval mode: W' kept by default (tests/core/test_eval_cache.py)
        assert len(calls) == 3
        with fused_weights_cached(net):
            for _ in range(3):
                assert torch.equal(net(x), expected)
        assert len(calls) == 6  # dropped when the scope starts, then computed once per layer
        net(x)
        assert len(calls) == 9  # the scope left none behind
    assert all(layer.reuse_fused_weights for _, layer in denoising_layers(net))


def test_cache_is_not_used_when_gradients_are_needed(monkeypatch):
    net = small_net()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    calls = counting(net, monkeypatch)
    with fused_weights_cached(net):
        for _ in range(2):
            net(x).sum().backward()
    assert len(calls) == 6
    assert all(layer.weight.grad is not None and layer.denoiser.weight.grad is not None
               for _, layer in denoising_layers(net))


def test_cached_w_prime_carries_the_requires_grad_flags_of_w_and_b():
    """As the fused layer's Parameters: torch.matmul picks its kernel by the flag; a frozen model evaluated
    with gradients enabled gives outputs that need no gradient, as the stock model's do."""
    net = small_net()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    layers = [layer for _, layer in denoising_layers(net)]
    layers[0].bias.requires_grad_(False)
    with fused_weights_cached(net):
        with torch.no_grad():
            net(x)  # computes and keeps W'
            with LayerWeights() as seen:
                net(x)  # the kept W'
        assert seen.flags == [(True, False), (True, True), (True, True)]
        net.requires_grad_(False)  # frozen: the cache is used with gradients enabled, flags follow
        with LayerWeights() as seen:
            out = net(x)
        assert not out.requires_grad
        assert seen.flags == [(False, False)] * 3


class LayerWeights(TorchFunctionMode):
    """The requires_grad flags of the (weight, bias) that each F.conv2d / F.linear call gets."""

    def __init__(self):
        super().__init__()
        self.flags = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (F.conv2d, F.linear):
            self.flags.append((args[1].requires_grad, args[2].requires_grad))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize('change', ['W', 'b', 'A', 'a', 'load_state_dict', 'sgd', 'adamw', 'replace', 'dtype'])
def test_any_change_of_w_b_a_is_picked_up(change):
    net = small_net()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    layer = denoising_layers(net)[1][1]  # the grouped conv
    other = small_net()
    with torch.no_grad():
        for _, l2 in denoising_layers(other):
            for p in l2.parameters():
                p.add_(torch.randn_like(p))
    with fused_weights_cached(net):
        with torch.no_grad():
            net(x)  # fill the cache
            if change == 'W':
                layer.weight.mul_(1.5)
            elif change == 'b':
                layer.bias.add_(1.0)
            elif change == 'A':
                layer.denoiser.weight.add_(0.1)
            elif change == 'a':
                layer.denoiser.bias.sub_(0.2)
            elif change == 'load_state_dict':
                net.load_state_dict(other.state_dict())
            elif change == 'replace':
                layer.denoiser.weight = nn.Parameter(layer.denoiser.weight + 0.1)
        if change in ('sgd', 'adamw'):
            params = [p for _, l2 in denoising_layers(net) for p in l2.parameters()]
            optimizer = (torch.optim.SGD(params, lr=0.1) if change == 'sgd' else torch.optim.AdamW(params, lr=0.1))
            net(x).sum().backward()  # in eval mode (net.train() would drop W'): only the version counter tells
            optimizer.step()
        if change == 'dtype':
            net.float()
            x = x.float()
        with torch.no_grad():
            actual = net(x)
    with torch.no_grad():
        expected = net(x)  # outside the scope: W' computed afresh
    assert torch.equal(actual, expected)


def test_positions_subset_is_an_unbiased_estimate_of_the_full_loss(monkeypatch):
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 4, 3, groups=2)
    add_denoisers(conv_net := nn.Sequential(conv), example_inputs=torch.randn(1, 6, 5, 5))
    layer = denoising_layers(conv_net)[0][1]
    with torch.no_grad():
        layer.denoiser.weight.normal_(0, 0.5)
        layer.denoiser.bias.normal_(0, 0.5)
    x = torch.randn(2, 6, 5, 5, dtype=torch.float32) * 3
    noise = torch.randn_like(x)
    with monkeypatch.context() as patch:
        patch.setattr(torch, 'randn_like', lambda t: noise.clone())
        full = layer.noise_prediction_loss(x).item()
    # by hand: method.md's forward diffusion and the l1 + l2 loss over every element
    abar = layer.schedule.alpha_bar
    by_hand = NOISE_LOSSES['l1+l2'](layer.denoiser(abar ** 0.5 * x + (1 - abar) ** 0.5 * noise), noise).item()
    assert full == pytest.approx(by_hand, rel=1e-6)
    # E over noise and subsets of the subset loss = E over noise of the full loss (fresh noise in every draw)
    full_draws = torch.tensor([layer.noise_prediction_loss(x, positions=1.0).item() for _ in range(3000)])
    draws = torch.tensor([layer.noise_prediction_loss(x, positions=0.1).item() for _ in range(3000)])
    standard_error = (draws.var().item() / len(draws) + full_draws.var().item() / len(full_draws)) ** 0.5
    assert abs(draws.mean().item() - full_draws.mean().item()) < 4 * standard_error
    assert draws.std().item() > 2 * full_draws.std().item()  # the subsets differ (5 of the 50 positions)
    for positions in (0.0, 1.5):
        with pytest.raises(ValueError, match=rf'^positions must be in \(0, 1\], got {positions}$'):
            layer.noise_prediction_loss(x, positions=positions)


def test_positions_subset_of_a_linear_layer_input_and_denoise_loss_option(monkeypatch):
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 3))
    add_denoisers(net, example_inputs=torch.randn(1, 7, 4))
    set_phase(net.train(), 'denoise')
    x = torch.randn(2, 7, 4)
    net(x)
    torch.manual_seed(5)
    subset = denoise_loss(net, positions=1 / 14)  # one position of the 14
    layer = denoising_layers(net)[0][1]
    torch.manual_seed(5)
    index = torch.randperm(14)[:1]
    noise_rows = torch.randn(1, 4)
    abar = layer.schedule.alpha_bar
    rows = x.reshape(14, 4)[index]
    expected = NOISE_LOSSES['l1+l2'](layer.denoiser(abar ** 0.5 * rows + (1 - abar) ** 0.5 * noise_rows), noise_rows)
    assert subset.item() == pytest.approx(expected.item(), rel=1e-6)


def test_backbone_only_denoise_phase_gives_the_full_forward_gradients():
    """DenoiseRepHook's denoise-phase loss (the backbone alone) against the full model's, float64."""
    from mmengine.registry import DefaultScope
    from mmpretrain.models import ImageClassifier
    from mmpretrain.structures import DataSample

    from mmdenoiserep.core.phases import backbone_only
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # whatever scope an earlier test left
        model = ImageClassifier(backbone=dict(type='ResNet', depth=18, out_indices=(3,)),
                                neck=dict(type='GlobalAveragePooling'),
                                head=dict(type='LinearClsHead', num_classes=3, in_channels=512)).double()
    add_denoisers(model.backbone, example_inputs=torch.randn(1, 3, 32, 32, dtype=torch.float64),
                  layer_types=(nn.Conv2d, nn.Linear))
    set_phase(model.train(), 'denoise')
    images = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    samples = [DataSample().set_gt_label(i) for i in (0, 2)]
    gradients = []
    for only in (False, True):
        trial = copy.deepcopy(model)
        with backbone_only(trial) if only else contextlib.nullcontext():
            losses = trial(images, samples, mode='loss')
        assert losses == {} if only else set(losses) == {'loss'}  # the head's cross-entropy in the full forward
        assert isinstance(trial, ImageClassifier) and type(trial) is ImageClassifier  # the class given back
        torch.manual_seed(3)
        denoise_loss(trial).backward()
        gradients.append({n: p.grad.clone() for n, p in trial.named_parameters() if '.denoiser.' in n})
    full, backbone = gradients
    assert full.keys() == backbone.keys() and len(full) == 20  # bias-free convs: A only
    for name in full:
        torch.testing.assert_close(backbone[name], full[name], rtol=0, atol=1e-12)


@pytest.mark.parametrize('positions', [1 / 18, 0.5])
def test_positions_subset_of_a_conv_input_takes_the_drawn_positions(positions):
    """The rows a conv layer's subset loss sees: position k of the randperm draw is (sample k // HW,
    pixel k % HW), all channels, checked against a channels-last copy of the input."""
    torch.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(3, 2, 1))
    add_denoisers(net, example_inputs=torch.randn(1, 3, 3, 3))
    layer = denoising_layers(net)[0][1]
    x = torch.randn(2, 3, 3, 3)
    torch.manual_seed(7)
    loss = layer.noise_prediction_loss(x, positions=positions)
    torch.manual_seed(7)
    index = torch.randperm(18)[:round(positions * 18)]
    noise = torch.randn(len(index), 3)
    rows = x.permute(0, 2, 3, 1).reshape(18, 3)[index]
    abar = layer.schedule.alpha_bar
    expected = NOISE_LOSSES['l1+l2'](layer.denoiser.forward_rows(abar ** 0.5 * rows + (1 - abar) ** 0.5 * noise), noise)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_positions_subset_of_an_unbatched_conv_input_matches_its_batch_of_one():
    """F.conv2d takes (C, H, W) inputs: the subset loss must read C at dim -3, not dim 1 (here H == C,
    so reading dim 1 would not fail, only take the wrong rows)."""
    torch.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(3, 2, 1))
    add_denoisers(net, example_inputs=torch.randn(1, 3, 3, 5))
    layer = denoising_layers(net)[0][1]
    nn.init.normal_(layer.denoiser.weight)
    x = torch.randn(3, 3, 5)
    losses = []
    for sample in (x, x[None]):
        torch.manual_seed(7)
        losses.append(layer.noise_prediction_loss(sample, positions=0.4).item())
    assert losses[0] == losses[1]


@pytest.mark.parametrize('groups', [1, 3])
@pytest.mark.parametrize('bias', [True, False])
def test_forward_rows_is_the_predictor_on_channels_last_rows(groups, bias):
    """forward_rows (used by the subset loss) against the conv denoiser on the same positions, float64."""
    from mmdenoiserep.core.layers import AffineDenoiser
    torch.manual_seed(0)
    denoiser = AffineDenoiser(6, groups=groups, bias=bias, channel_dim=1, dtype=torch.float64)
    for parameter in denoiser.parameters():
        nn.init.normal_(parameter)
    x = torch.randn(2, 6, 3, 4, dtype=torch.float64)
    rows = x.permute(0, 2, 3, 1).reshape(-1, 6)
    expected = denoiser(x).permute(0, 2, 3, 1).reshape(-1, 6)
    torch.testing.assert_close(denoiser.forward_rows(rows), expected, rtol=0, atol=1e-12)
