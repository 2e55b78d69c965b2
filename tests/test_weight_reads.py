"""Layers whose weight a module reads instead of calling them: a registered owner, nn.MultiheadAttention.

Pure PyTorch: the denoise phase computes the stock model, the layers record the inputs their weights are
applied to, and fusion gives back the stock modules and keys with outputs equal in float64.
"""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmdenoiserep import (add_denoisers, denoise_loss, denoiser_parameters, denoising_layers, fuse_denoisers,
                          fused_weights_cached, set_phase)
from mmdenoiserep.core import WEIGHT_READERS, discard_recorded_calls, register_weight_reader


class ReadsItsProjection(nn.Module):
    """Applies ``proj.weight`` itself, with a bias of its own (like SwinV2's qkv with q_bias/v_bias)."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 6, bias=False)
        self.own_bias = nn.Parameter(torch.randn(6))

    def forward(self, x, scale=1.0):
        return F.linear(x, self.proj.weight, self.own_bias) * scale


class ReadsItsBiasedProjection(nn.Module):
    """Applies ``proj.weight`` and ``proj.bias`` itself."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 6)
        with torch.no_grad():
            self.proj.bias.normal_()

    def forward(self, x):
        return torch.tanh(F.linear(x, self.proj.weight, self.proj.bias))


class Reader(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(4, 6)
        self.block = ReadsItsProjection()
        self.biased = ReadsItsBiasedProjection()
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        return self.head(self.biased(x=self.block(torch.relu(self.stem(x)), scale=2.0)))  # x by keyword


class Attention(nn.Module):
    """Cross-attention on a reduced key/value (as MiT), then self-attention."""

    def __init__(self):
        super().__init__()
        self.reduce = nn.Linear(8, 8)
        self.cross = nn.MultiheadAttention(8, 2, batch_first=True)
        self.self_attn = nn.MultiheadAttention(8, 2)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        kv = self.reduce(x[:, ::2])
        x = x + self.cross(x, kv, kv)[0]
        y = x.transpose(0, 1)
        return self.head(self.self_attn(y, y, y)[0].transpose(0, 1))


class BiasFreeAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, bias=False, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x)[0]


@pytest.fixture
def reader_registered():
    register_weight_reader(ReadsItsProjection, {'proj': (0, 'x')})
    register_weight_reader(ReadsItsBiasedProjection, {'proj': (0, 'x')})
    yield
    del WEIGHT_READERS[ReadsItsProjection], WEIGHT_READERS[ReadsItsBiasedProjection]


def converted(stock, example, **kwargs):
    model = add_denoisers(copy.deepcopy(stock), example_inputs=example, **kwargs)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in denoiser_parameters(model):
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * 0.3)
    return model


CASES = {
    'registered reader': (Reader, (5, 4), {}, ['stem', 'block.proj', 'biased.proj', 'head']),
    'reader at the root': (ReadsItsBiasedProjection, (5, 6), {}, ['proj']),  # named 'proj', not '.proj'
    'multihead attention': (Attention, (2, 6, 8), dict(layer_types=(nn.Linear, nn.MultiheadAttention)),
                            ['reduce', 'cross.in_proj', 'cross.out_proj', 'self_attn.in_proj',
                             'self_attn.out_proj', 'head']),
    'bias-free attention': (BiasFreeAttention, (2, 5, 8), dict(layer_types=(nn.MultiheadAttention,)),
                            ['attn.in_proj', 'attn.out_proj']),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_read_layers_denoise_train_and_fuse_exactly(case, reader_registered):
    make, shape, kwargs, order = CASES[case]
    torch.manual_seed(0)
    stock = make().double()
    x = torch.randn(*shape, dtype=torch.float64)
    model = converted(stock, x, **kwargs)
    steps = {name: layer.step for name, layer in denoising_layers(model)}
    assert [steps[name] for name in order] == list(range(len(order), 0, -1))  # execution order
    assert set(model.state_dict()) - set(stock.state_dict()) == {
        k for k in model.state_dict() if '.denoiser.' in k}

    set_phase(model, 'denoise')
    model.train(), stock.train()
    torch.testing.assert_close(model(x), stock(x), rtol=1e-12, atol=1e-12)  # the stock W, b
    losses = denoise_loss(model, per_layer=True)
    assert set(losses) == set(order)
    sum(losses.values()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in denoiser_parameters(model))

    set_phase(model, 'joint')
    with torch.no_grad():
        expected = model.train()(x)  # training: the read weights shown as W' (attention: out_proj called)
        model.eval()
        torch.testing.assert_close(model(x), expected, rtol=1e-12, atol=1e-12)  # eval: the inference path
        with fused_weights_cached(model):  # eval as validation runs it: W' computed once
            torch.testing.assert_close(model(x), expected, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(model(x), expected, rtol=1e-12, atol=1e-12)
        discard_recorded_calls(model)
    assert (expected - stock.eval()(x)).abs().max() > 1e-3  # the denoisers change the function
    fused = fuse_denoisers(copy.deepcopy(model))
    assert not denoising_layers(fused) and not any('forward' in vars(m) for m in fused.modules())
    assert [type(m) for m in fused.modules()] == [type(m) for m in stock.modules()]
    assert list(fused.state_dict()) == list(stock.state_dict())
    stock.load_state_dict(fused.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(stock(x), expected, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(fused(x), expected, rtol=1e-10, atol=1e-10)


def test_attention_in_proj_loss_counts_each_distinct_input():
    """Cross-attention: query and the (one) key/value tensor; self-attention: q = k = v counts once."""
    torch.manual_seed(0)
    x = torch.randn(2, 6, 8)
    model = converted(Attention(), x, layer_types=(nn.Linear, nn.MultiheadAttention))
    set_phase(model, 'denoise')
    model.train()(x)
    recorded = {name: len(layer.recorded_inputs) for name, layer in denoising_layers(model)}
    assert recorded == {'reduce': 1, 'cross.in_proj': 2, 'cross.out_proj': 1, 'self_attn.in_proj': 1,
                        'self_attn.out_proj': 1, 'head': 1}


def test_frozen_flags_and_copies_survive_the_attention_wrapping():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 8)
    model = converted(Attention(), x, layer_types=(nn.Linear, nn.MultiheadAttention))
    model.cross.in_proj_bias.requires_grad_(False)
    model.self_attn.in_proj_weight.requires_grad_(False)
    set_phase(model, 'denoise')
    model.train()(x)
    copied = copy.deepcopy(model)
    assert copied.cross.in_proj.attention is copied.cross  # the layer follows the copied attention
    assert copied.cross.forward.__self__ is copied.cross
    fuse_denoisers(model)
    assert model.cross.in_proj_weight.requires_grad and not model.cross.in_proj_bias.requires_grad
    assert not model.self_attn.in_proj_weight.requires_grad and model.self_attn.in_proj_bias.requires_grad


class DistinctKeyValue(nn.Module):
    """Attention on a query, a key and a value that are three different tensors, with a key padding mask
    (positional) and an attention mask (keyword), and non-zero biases (nn.MultiheadAttention starts at 0)."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        with torch.no_grad():
            self.attn.in_proj_bias.normal_()
            self.attn.out_proj.bias.normal_()

    def forward(self, x):
        key, value = x[:, ::2] * 2.0, x[:, 1::2] - 1.0
        padding = torch.zeros(x.shape[0], key.shape[1], dtype=torch.bool)
        padding[:, -1] = True
        causal = torch.ones(x.shape[1], key.shape[1], dtype=torch.bool).triu(1)
        return self.attn(x, key, value, padding, attn_mask=causal)[0]


@pytest.mark.parametrize('exclude', [None, '*in_proj', '*out_proj'])
def test_attention_with_distinct_key_and_value_and_either_projection_alone(exclude):
    """in_proj records query, key and value (three distinct inputs); converting only one of the two
    projections works the same: training forward of the stock W, eval forward and fusion exact."""
    torch.manual_seed(0)
    stock = DistinctKeyValue().double()
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    model = converted(stock, x, layer_types=(nn.Linear, nn.MultiheadAttention), exclude=exclude)
    names = {name for name, _ in denoising_layers(model)}
    assert names == {'attn.in_proj', 'attn.out_proj'} - ({exclude.replace('*', 'attn.')} if exclude else set())
    set_phase(model, 'denoise')
    torch.testing.assert_close(model.train()(x), stock.train()(x), rtol=1e-12, atol=1e-12)
    recorded = {name: len(layer.recorded_inputs) for name, layer in denoising_layers(model)}
    assert recorded == {name: 3 if name.endswith('in_proj') else 1 for name in names}
    discard_recorded_calls(model)
    set_phase(model, 'joint')
    with torch.no_grad():
        expected = model(x)
        model.eval()
        torch.testing.assert_close(model(x), expected, rtol=1e-12, atol=1e-12)
        fused = fuse_denoisers(copy.deepcopy(model))
        torch.testing.assert_close(fused(x), expected, rtol=1e-10, atol=1e-10)
    assert (expected - stock(x)).abs().max() > 1e-3


def test_eval_attention_applies_w_prime_inside_the_attention_as_the_fused_one_does():
    """Eval: out_proj's W', b' are shown to the stock attention (no identity product, out_proj not called
    as a module); training: out_proj is called on the attention output (its input recorded)."""
    torch.manual_seed(0)
    x = torch.randn(2, 6, 8)
    model = converted(DistinctKeyValue(), x, layer_types=(nn.Linear, nn.MultiheadAttention))
    calls = []
    model.attn.out_proj.register_forward_hook(lambda *args: calls.append(1))
    set_phase(model, 'joint')
    with torch.no_grad():
        model.eval()(x)
        assert calls == []
        model.train()(x)
        assert calls == [1]


def test_in_projection_defaults_to_the_authors_loss():
    from mmdenoiserep.core import step_coefficients
    from mmdenoiserep.core.attention import DenoisingInProjection
    coefficients = step_coefficients(1)
    layer = DenoisingInProjection(nn.MultiheadAttention(8, 2), coefficients)
    assert layer.noise_loss == 'l1+l2' and layer.denoiser.weight.shape == (8, 8)
    assert layer.extra_repr() == (f'in_features=8, out_features=24, step=1, c3={coefficients.c3:.6g}, '
                                  f'c1={coefficients.c1:.6g}, phase=joint')


def test_an_attention_left_unconverted_keeps_its_forward_through_fusion():
    """Excluding one attention of two: fusion gives back the converted one's class forward and leaves the
    other (never wrapped) as it was."""
    torch.manual_seed(0)
    stock = Attention().double()
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    model = converted(stock, x, layer_types=(nn.Linear, nn.MultiheadAttention), exclude='self_attn.*')
    assert 'forward' in vars(model.cross) and 'forward' not in vars(model.self_attn)
    set_phase(model, 'joint')
    with torch.no_grad():
        expected = model.eval()(x)
        fused = fuse_denoisers(model)
        assert 'forward' not in vars(fused.cross) and 'forward' not in vars(fused.self_attn)
        torch.testing.assert_close(fused(x), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('train', [True, False])
def test_attention_substitutes_tensors_on_the_weights_device(train, monkeypatch):
    """The identity shown for out_proj in training (and W', b' in eval) have the device, dtype and shape of
    the tensors they stand for: a model on the 'meta' device runs, and every substitution matches."""
    import mmdenoiserep.core.attention as attention
    shown = []

    def recording_shown_as(substitutions):
        shown.extend((getattr(module, name), tensor) for module, name, tensor in substitutions)
        return real_shown_as(substitutions)

    real_shown_as = attention.shown_as
    monkeypatch.setattr(attention, 'shown_as', recording_shown_as)
    x = torch.randn(2, 6, 8)
    model = converted(DistinctKeyValue(), x, layer_types=(nn.Linear, nn.MultiheadAttention))
    set_phase(model, 'joint')
    model.to('meta').train(train)
    output = model(x.to('meta'))
    assert output.device.type == 'meta' and output.shape == (2, 6, 8)
    assert len(shown) == 4  # in_proj weight and bias, out_proj weight and bias
    for stock, tensor in shown:
        assert (tensor.device, tensor.dtype, tensor.shape) == (stock.device, stock.dtype, stock.shape)
