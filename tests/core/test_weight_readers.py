"""Layers whose weight a module reads instead of calling them (weight readers): owners that apply a child
Linear's weight, nn.MultiheadAttention, and an einsum over a (K, C_out, C_in) weight as a third owner type.

Pure PyTorch: the denoise phase computes the stock model, the layers record the inputs their weights are
applied to, and fusion gives back the stock modules and keys with outputs equal in float64. The owners'
forwards run through hooks: no instance attribute replaces a method.
"""
import copy
import pickle
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmdenoiserep import (add_denoisers, denoise_loss, denoiser_parameters, denoising_layers, fuse_denoisers,
                          fused_weights_cached, set_phase)
from mmdenoiserep.core import (DEFAULT_WEIGHT_READERS, ArgumentReader, DenoisingReadWeight, MultiheadAttentionReader,
                               WeightRead, WeightReader, discard_recorded_calls, get_default_weight_readers,
                               register_weight_reader)
from mmdenoiserep.core.weight_readers import attached_reader


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


class ReadsTwo(nn.Module):
    """Applies a child's and a grandchild's weights (two read layers of one owner, one by a dotted name)."""

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(6, 6)
        self.inner = nn.Module()
        self.inner.second = nn.Linear(6, 6, bias=False)

    def forward(self, x):
        return F.linear(torch.tanh(F.linear(x, self.first.weight, self.first.bias)), self.inner.second.weight) + x


class Reader(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(4, 6)
        self.block = ReadsItsProjection()
        self.biased = ReadsItsBiasedProjection()
        self.two = ReadsTwo()
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        x = self.biased(x=self.block(torch.relu(self.stem(x)), scale=2.0))  # x by keyword
        return self.head(self.two(x))


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


class EinsumProjection(nn.Module):
    """Applies a (K, C_out, C_in) weight of its own to (B, K, L, C_in) with an einsum, as VMamba's SS2D
    applies ``x_proj_weight`` to its K scan directions, with a bias (K, C_out)."""

    def __init__(self, directions=3, channels=5, out_channels=4):
        super().__init__()
        self.x_proj_weight = nn.Parameter(torch.randn(directions, out_channels, channels) / channels ** 0.5)
        self.x_proj_bias = nn.Parameter(torch.randn(directions, out_channels))

    def forward(self, xs):
        return torch.einsum('bkli,koi->bklo', xs, self.x_proj_weight) + self.x_proj_bias[:, None]


class Scans(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(5, 5)
        self.scan = EinsumProjection()

    def forward(self, x):
        return self.scan(xs=torch.tanh(self.stem(x)))  # keyword input


def readers():
    """The project's table plus one entry per toy owner type."""
    table = get_default_weight_readers()
    table[nn.MultiheadAttention] = MultiheadAttentionReader()  # built here, not only at import
    table[ReadsItsProjection] = table[ReadsItsBiasedProjection] = ArgumentReader({'proj': WeightRead(((0, 'x'),))})
    table[ReadsTwo] = ArgumentReader({'first': WeightRead(((0, 'x'),)), 'inner.second': WeightRead(((0, 'x'),))})
    table[EinsumProjection] = ArgumentReader({'x_proj': WeightRead(((0, 'xs'),), 'x_proj_weight', 'x_proj_bias')})
    return table


def free_of_mmdenoiserep(model):
    """Nothing of mmdenoiserep left on any module: no reader hook, no forward replaced by an instance
    attribute, no layer, attribute or object of the package (pickle writes every module's attributes and
    hooks, each object by the name of its module and class)."""
    return b'mmdenoiserep' not in pickle.dumps(model)


def converted(stock, example, **kwargs):
    model = add_denoisers(copy.deepcopy(stock), example_inputs=example, **{'weight_readers': readers(), **kwargs})
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in denoiser_parameters(model):
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * 0.3)
    return model


CASES = {
    'registered reader': (Reader, (5, 4), {}, ['stem', 'block.proj', 'biased.proj', 'two.first', 'two.inner.second',
                                               'head']),
    'reader at the root': (ReadsItsBiasedProjection, (5, 6), {}, ['proj']),  # named 'proj', not '.proj'
    'einsum over a stack of weights': (Scans, (2, 3, 7, 5), dict(layer_types=(nn.Linear, EinsumProjection)),
                                       ['stem', 'scan.x_proj']),
    'multihead attention': (Attention, (2, 6, 8), dict(layer_types=(nn.Linear, nn.MultiheadAttention)),
                            ['reduce', 'cross.in_proj', 'cross.out_proj', 'self_attn.in_proj',
                             'self_attn.out_proj', 'head']),
    'bias-free attention': (BiasFreeAttention, (2, 5, 8), dict(layer_types=(nn.MultiheadAttention,)),
                            ['attn.in_proj', 'attn.out_proj']),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_read_layers_denoise_train_and_fuse_exactly(case):
    make, shape, kwargs, order = CASES[case]
    torch.manual_seed(0)
    stock = make().double()
    x = torch.randn(*shape, dtype=torch.float64)
    model = converted(stock, x, **kwargs)
    steps = {name: layer.step for name, layer in denoising_layers(model)}
    assert [steps[name] for name in order] == list(range(len(order), 0, -1))  # execution order
    assert not any('forward' in vars(m) for m in model.modules())  # hooks run the owners: no method replaced
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
    assert (expected - stock.eval()(x)).abs().max() > 1e-4  # the denoisers change the function (>> 1e-10)
    fused = fuse_denoisers(copy.deepcopy(model))
    assert not denoising_layers(fused) and free_of_mmdenoiserep(fused)
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
    for copied in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert copied.cross.in_proj.owner is copied.cross  # the layer follows the copied attention
        assert isinstance(attached_reader(copied.cross), MultiheadAttentionReader)
        assert not any('forward' in vars(m) for m in copied.modules())
        with torch.no_grad():
            torch.testing.assert_close(copied.eval()(x), model.eval()(x), rtol=0, atol=0)
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


def test_read_weight_defaults_to_the_authors_loss():
    from mmdenoiserep.core import step_coefficients
    coefficients = step_coefficients(1)
    layer = DenoisingReadWeight(nn.MultiheadAttention(8, 2), 'in_proj_weight', 'in_proj_bias', coefficients)
    assert layer.noise_loss == 'l1+l2' and layer.denoiser.weight.shape == (8, 8)
    assert layer.extra_repr() == (f'in_proj_weight=(24, 8), step=1, c3={coefficients.c3:.6g}, '
                                  f'c1={coefficients.c1:.6g}, phase=joint')
    stack = DenoisingReadWeight(EinsumProjection(), 'x_proj_weight', 'x_proj_bias', coefficients)
    assert stack.weight.shape == (12, 5) and stack.bias.shape == (12,) and stack.denoiser.weight.shape == (5, 5)


def test_an_attention_left_unconverted_keeps_its_forward_through_fusion():
    """Excluding one attention of two: fusion gives back the converted one's class forward and leaves the
    other (never wrapped) as it was."""
    torch.manual_seed(0)
    stock = Attention().double()
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    model = converted(stock, x, layer_types=(nn.Linear, nn.MultiheadAttention), exclude='self_attn.*')
    assert attached_reader(model.cross) is not None and attached_reader(model.self_attn) is None
    set_phase(model, 'joint')
    with torch.no_grad():
        expected = model.eval()(x)
        fused = fuse_denoisers(model)
        assert free_of_mmdenoiserep(fused)
        torch.testing.assert_close(fused(x), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('train', [True, False])
def test_attention_substitutes_tensors_on_the_weights_device(train, monkeypatch):
    """The identity shown for out_proj in training (and W', b' in eval) have the device, dtype and shape of
    the tensors they stand for: a model on the 'meta' device runs, and every substitution matches."""
    shown = []

    def recording_show(self, *args):
        substitutions = real_show(self, *args)
        shown.extend((getattr(module, name), tensor) for module, name, tensor in substitutions)
        return substitutions

    real_show = MultiheadAttentionReader.show
    monkeypatch.setattr(MultiheadAttentionReader, 'show', recording_show)
    x = torch.randn(2, 6, 8)
    model = converted(DistinctKeyValue(), x, layer_types=(nn.Linear, nn.MultiheadAttention))
    set_phase(model, 'joint')
    model.to('meta').train(train)
    output = model(x.to('meta'))
    assert output.device.type == 'meta' and output.shape == (2, 6, 8)
    assert len(shown) == 4  # in_proj weight and bias, out_proj weight and bias
    for stock, tensor in shown:
        assert (tensor.device, tensor.dtype, tensor.shape) == (stock.device, stock.dtype, stock.shape)


def test_an_einsum_owner_is_supported_by_one_table_entry():
    """A third owner type, applying a (K, C_out, C_in) weight with an einsum (VMamba's x_proj_weight), needs
    one table entry: each of the K stacked layers computes W_k (c3 x - c1 (A x + a)) + b_k in float64 (the
    two-branch form), the converted owner shows W' in training and in eval (W' computed once under no_grad),
    and the fused owner's state_dict loads into the plain module with equal outputs."""
    torch.manual_seed(0)
    stock = EinsumProjection().double()
    x = torch.randn(2, 3, 7, 5, dtype=torch.float64)
    table = {EinsumProjection: ArgumentReader({'x_proj': WeightRead(((0, 'xs'),), 'x_proj_weight', 'x_proj_bias')})}
    model = converted(stock, x, layer_types=(EinsumProjection,), weight_readers=table)
    layer = model.x_proj
    assert [name for name, _ in denoising_layers(model)] == ['x_proj'] and isinstance(layer, DenoisingReadWeight)
    added = set(model.state_dict()) - set(stock.state_dict())
    assert {'x_proj.denoiser.weight', 'x_proj.denoiser.bias'} <= added and all(
        key.startswith('x_proj.denoiser.') for key in added)
    c3, c1 = layer.coefficients
    x_hat = c3 * x - c1 * (x @ layer.denoiser.weight.T + layer.denoiser.bias)
    two_branch = torch.einsum('bkli,koi->bklo', x_hat, stock.x_proj_weight) + stock.x_proj_bias[:, None]
    set_phase(model, 'joint')
    torch.testing.assert_close(model.train()(x), two_branch, rtol=1e-12, atol=1e-12)
    assert len(layer.recorded_inputs) == 1 and layer.recorded_inputs[0].equal(x)
    assert (two_branch - stock(x)).abs().max() > 1e-3
    computed = []
    fused_weights = layer.fused_weights
    layer.fused_weights = lambda: computed.append(1) or fused_weights()
    model.eval()
    with torch.no_grad():
        for _ in range(2):
            torch.testing.assert_close(model(x), two_branch, rtol=1e-12, atol=1e-12)
    assert computed == [1]  # eval reuses W' of the stacked weight like any layer's
    del layer.fused_weights
    fused = fuse_denoisers(model)
    assert list(fused.state_dict()) == ['x_proj_weight', 'x_proj_bias'] and free_of_mmdenoiserep(fused)
    assert fused.x_proj_weight.shape == (3, 4, 5) and fused.x_proj_bias.shape == (3, 4)
    plain = EinsumProjection().double()
    plain.load_state_dict(fused.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(plain(x), two_branch, rtol=1e-12, atol=1e-12)


class Fails(Exception):
    pass


class FailingProjection(EinsumProjection):
    def forward(self, xs, fail=False):
        if fail:
            raise Fails
        return super().forward(xs)


@pytest.mark.parametrize('train', [True, False])
def test_an_exception_in_the_owners_forward_leaves_nothing_shown(train):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 5)
    table = {FailingProjection: ArgumentReader({'x_proj': WeightRead(((0, 'xs'),), 'x_proj_weight', 'x_proj_bias')})}
    model = add_denoisers(FailingProjection(), layer_types=(FailingProjection,), weight_readers=table)
    set_phase(model, 'joint')
    model.train(train)
    expected = model(x)
    with pytest.raises(Fails):
        model(x, fail=True)
    # the forward hook removes the shown weights as it pops the forward's entry: nothing is left pending
    assert 'x_proj_weight' not in vars(model) and 'x_proj_bias' not in vars(model)
    assert isinstance(attached_reader(model), ArgumentReader)
    torch.testing.assert_close(model(x), expected)


@pytest.mark.filterwarnings('ignore:None of the inputs have requires_grad')
def test_owner_hooks_under_gradient_checkpointing():
    """with_cp re-runs the owner's forward in backward: the same weights are shown, the input is recorded
    once per training forward, and the gradients are those without checkpointing (both checkpoint kinds)."""
    from torch.utils.checkpoint import checkpoint

    class Checkpointed(nn.Module):
        def __init__(self, use_reentrant):
            super().__init__()
            self.stem, self.use_reentrant = nn.Linear(4, 6), use_reentrant
            self.block = ReadsItsBiasedProjection()

        def forward(self, x):
            x = self.stem(x)
            if self.use_reentrant is None:
                return self.block(x)
            return checkpoint(self.block, x, use_reentrant=self.use_reentrant)

    torch.manual_seed(0)
    x = torch.randn(5, 4, dtype=torch.float64)
    grads = {}
    for use_reentrant in (None, True, False):
        torch.manual_seed(1)
        model = converted(Checkpointed(use_reentrant).double(), x)
        for phase in ('denoise', 'joint'):
            set_phase(model, phase)
            out = model.train()(x)
            assert len(model.block.proj.recorded_inputs) == 1
            torch.manual_seed(2)
            (denoise_loss(model) + (out.sum() if phase == 'joint' else 0)).backward()
            assert not model.block.proj.recorded_inputs  # the recomputed forward recorded nothing
        grads[use_reentrant] = [p.grad for p in model.parameters() if p.grad is not None]
        assert not any(vars(m).keys() & {'weight', 'bias'} for m in model.modules())
    for use_reentrant in (True, False):
        assert len(grads[use_reentrant]) == len(grads[None]) > 0
        for actual, reference in zip(grads[use_reentrant], grads[None]):
            torch.testing.assert_close(actual, reference, rtol=1e-12, atol=1e-12)


def test_owner_hooks_under_ddp(process_group):
    """A converted attention in DistributedDataParallel trains as the module itself does."""
    torch.manual_seed(0)
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    model = converted(DistinctKeyValue().double(), x, layer_types=(nn.MultiheadAttention,))
    reference = copy.deepcopy(model)
    set_phase(model, 'joint'), set_phase(reference, 'joint')
    for runner_model, module in ((nn.parallel.DistributedDataParallel(model), model), (reference, reference)):
        out = runner_model.train()(x)
        torch.manual_seed(1)  # the same noise for both losses
        (out.sum() + denoise_loss(module)).backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-10)


def test_the_table_is_copied_and_checked():
    table = get_default_weight_readers()
    assert table.keys() == DEFAULT_WEIGHT_READERS.keys() and nn.MultiheadAttention in table
    assert all(table[t] is not DEFAULT_WEIGHT_READERS[t] for t in table)
    table[EinsumProjection] = ArgumentReader({})
    assert EinsumProjection not in DEFAULT_WEIGHT_READERS
    with pytest.raises(TypeError, match='reader must be a WeightReader, got dict'):
        register_weight_reader(EinsumProjection, {'x_proj': (0, 'xs')})
    assert EinsumProjection not in DEFAULT_WEIGHT_READERS
    with pytest.raises(TypeError, match='weight_readers must be a dict'):
        add_denoisers(nn.Linear(2, 2), weight_readers={EinsumProjection: {}})
    with pytest.raises(ValueError, match='MultiheadAttention is not an nn.Linear or nn.Conv2d'):
        add_denoisers(nn.MultiheadAttention(4, 2), layer_types=(nn.MultiheadAttention,), weight_readers={})
    for operation in (WeightReader().layers, lambda owner: WeightReader().show(owner, {}, (), {})):
        with pytest.raises(NotImplementedError):
            operation(nn.Linear(2, 2))


def test_register_weight_reader_adds_to_the_project_table():
    reader = ArgumentReader({'x_proj': WeightRead(((0, 'xs'),), 'x_proj_weight')})
    try:
        register_weight_reader(EinsumProjection, reader)
        assert DEFAULT_WEIGHT_READERS[EinsumProjection] is reader
        model = add_denoisers(Scans(), layer_types=(nn.Linear, EinsumProjection))
        assert [name for name, _ in denoising_layers(model)] == ['stem', 'scan.x_proj']
        assert model.scan.x_proj.bias is None and model.scan.x_proj.denoiser.bias is None
    finally:
        del DEFAULT_WEIGHT_READERS[EinsumProjection]


def test_read_layers_are_listed_at_their_place_as_the_module_that_stands_for_them():
    """A child read layer is listed (once) as itself where it is registered, a weight of the owner's own as
    the owner at the owner's place; an attention with separate q/k/v weights reads out_proj only."""
    from mmdenoiserep.core import convertible_layers
    model = Reader()
    assert list(convertible_layers(model, (nn.Linear,), readers())) == [
        ('stem', model.stem), ('block.proj', model.block.proj), ('biased.proj', model.biased.proj),
        ('two.first', model.two.first), ('two.inner.second', model.two.inner.second), ('head', model.head)]
    assert list(convertible_layers(model, (ReadsTwo,), readers())) == [  # the owner's type listed
        ('two.first', model.two.first), ('two.inner.second', model.two.inner.second)]
    scans = Scans()
    assert list(convertible_layers(scans, (EinsumProjection,), readers())) == [('scan.x_proj', scans.scan)]
    separate = nn.ModuleDict(dict(attn=nn.MultiheadAttention(8, 2, kdim=4, vdim=4)))
    assert list(convertible_layers(separate, (nn.MultiheadAttention,))) == [
        ('attn.out_proj', separate['attn'].out_proj)]


def test_attention_with_separate_key_and_value_weights_denoises_out_proj():
    torch.manual_seed(0)
    stock = nn.MultiheadAttention(8, 2, kdim=4, vdim=4, batch_first=True).double()
    query, key = torch.randn(2, 5, 8, dtype=torch.float64), torch.randn(2, 3, 4, dtype=torch.float64)
    model = converted(stock, (query, key, key), layer_types=(nn.MultiheadAttention,))
    assert [name for name, _ in denoising_layers(model)] == ['out_proj']
    set_phase(model, 'joint')
    with torch.no_grad():
        expected = model.train()(query, key, key)
        torch.testing.assert_close(model.eval()(query, key, key), expected, rtol=1e-12, atol=1e-12)
        fused = fuse_denoisers(model)
        torch.testing.assert_close(fused(query, key, key), expected, rtol=1e-10, atol=1e-10)
        assert (expected[0] - stock(query, key, key)[0]).abs().max() > 1e-4


def test_hooks_of_the_user_see_the_owners_output_and_the_attention_weights_stay():
    """A forward hook registered on the attention before add_denoisers sees what the attention returns
    (out_proj already applied after the identity shown in training), and the attention weights are returned
    as the stock ones (the denoise phase computes the stock attention); inputs by keyword."""
    torch.manual_seed(0)
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    stock = nn.MultiheadAttention(8, 2, batch_first=True).double()
    seen = []
    stock.register_forward_hook(lambda module, args, output: seen.append(output))
    model = converted(stock, (x, x, x), layer_types=(nn.MultiheadAttention,))
    set_phase(model, 'denoise')
    with torch.no_grad():
        output = model.train()(query=x, key=x, value=x)
        reference = stock.train()(x, x, x)
    assert seen[-2] is output and len(output) == 2
    for actual, expected in zip(output, reference):
        torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-12)


def test_a_pre_hook_that_raises_before_the_readers_leaves_the_owner_working():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 8)
    model = converted(DistinctKeyValue(), x, layer_types=(nn.MultiheadAttention,))
    set_phase(model, 'joint')
    expected = model(x)

    def refuse(module, args):
        raise Fails

    handle = model.attn.register_forward_pre_hook(refuse, prepend=True)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # torch warns when an always-called hook raises
        with pytest.raises(Fails):
            model(x)
    handle.remove()
    torch.testing.assert_close(model(x), expected)
