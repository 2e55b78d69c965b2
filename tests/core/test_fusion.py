"""Fused layer == unfused two-branch reference, in float64, over many random layer configurations."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mmdenoiserep import fuse_denoisers
from mmdenoiserep.core import DenoisingConv2d, DenoisingLinear, step_coefficients

TOL = dict(rtol=1e-10, atol=1e-10)
PADDING_MODES = ('zeros', 'reflect', 'replicate', 'circular')


def conv_padding(layer):
    """F.pad's (left, right, top, bottom) for ``layer``'s padding, as nn.Conv2d pads: 'same' puts the odd
    pixel of an even total (dilation x (kernel - 1)) on the right / bottom."""
    if layer.padding == 'valid':
        return (0, 0, 0, 0)
    if layer.padding == 'same':
        totals = [d * (k - 1) for d, k in zip(layer.dilation, layer.kernel_size)]
    else:
        totals = [2 * p for p in layer.padding]
    return tuple(side for total in reversed(totals) for side in (total // 2, total - total // 2))


def two_branch_reference(layer, x):
    """x_hat = c3 x - c1 eps_hat(x) on the (padded) input, then the original W, b without padding."""
    c3, c1 = layer.coefficients
    if isinstance(layer, nn.Conv2d):
        mode = 'constant' if layer.padding_mode == 'zeros' else layer.padding_mode
        x = F.pad(x, conv_padding(layer), mode=mode)
        x_hat = c3 * x - c1 * layer.predict_noise(x)
        return F.conv2d(x_hat, layer.weight, layer.bias, layer.stride, 0, layer.dilation, layer.groups)
    return F.linear(c3 * x - c1 * layer.predict_noise(x), layer.weight, layer.bias)


def randomize_(module, generator):
    """Put non-trivial values into every parameter (a zero-initialised denoiser would hide bugs)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype))


def make_denoising(plain, seed, step, num_steps=20, beta_range=(1e-2, 0.2)):
    generator = torch.Generator().manual_seed(seed)
    plain = plain.double()
    cls = DenoisingConv2d if isinstance(plain, nn.Conv2d) else DenoisingLinear
    layer = cls.from_plain(plain, step_coefficients(step, num_steps, beta_range))
    randomize_(layer, generator)
    return layer, generator


def check_fusion(layer, x):
    reference = two_branch_reference(layer, x)
    layer.eval()
    output = layer(x)
    torch.testing.assert_close(output, reference, **TOL)  # on-the-fly fused path
    # ... in the stock layer's memory layout (mmcv's CPU RoIAlign misreads channels-last features)
    assert output.stride() == reference.stride()
    weight_strides = layer.weight.stride()
    plain = fuse_denoisers(layer)
    assert plain.weight.stride() == weight_strides
    assert type(plain) is layer.plain_type() in (nn.Linear, nn.Conv2d)  # the exact stock class
    assert (plain.bias is None) == (layer.bias is None)
    assert set(plain.state_dict()) == {'weight'} | ({'bias'} if layer.bias is not None else set())
    torch.testing.assert_close(plain(x), reference, **TOL)
    # The step moves the weights well away from W, so a wrong fusion cannot pass by accident.
    assert (plain.weight - layer.weight).abs().max() > 1e-6


@settings(max_examples=150, deadline=None)
@given(data=st.data(), ndim=st.integers(2, 4), bias=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_linear_fusion_exact(data, ndim, bias, seed):
    cin, cout = data.draw(st.integers(1, 12)), data.draw(st.integers(1, 12))
    step = data.draw(st.integers(1, 20))
    layer, generator = make_denoising(nn.Linear(cin, cout, bias=bias), seed, step)
    batch = data.draw(st.lists(st.integers(1, 4), min_size=ndim - 1, max_size=ndim - 1))
    x = torch.randn(*batch, cin, generator=generator, dtype=torch.float64)
    check_fusion(layer, x)


@st.composite
def conv_configs(draw):
    kh, kw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    padding_mode = draw(st.sampled_from(PADDING_MODES))
    kind = draw(st.sampled_from(('dense', 'grouped', 'depthwise')))
    if kind == 'dense':
        groups, cin, cout = 1, draw(st.integers(1, 6)), draw(st.integers(1, 6))
    elif kind == 'grouped':
        groups = draw(st.integers(2, 3))
        cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    else:
        groups = cin = draw(st.integers(1, 6))
        cout = cin * draw(st.integers(1, 2))
    # The input must be larger than the padding (reflect) and give at least one output pixel.
    min_h = max(padding[0] + 1, dilation[0] * (kh - 1) + 1 - 2 * padding[0], 1)
    min_w = max(padding[1] + 1, dilation[1] * (kw - 1) + 1 - 2 * padding[1], 1)
    size = (draw(st.integers(min_h, min_h + 5)), draw(st.integers(min_w, min_w + 5)))
    return dict(in_channels=cin, out_channels=cout, kernel_size=(kh, kw), stride=stride,
                padding=padding, dilation=dilation, groups=groups, padding_mode=padding_mode), size


@settings(max_examples=300, deadline=None)
@given(config=conv_configs(), bias=st.booleans(), step=st.integers(1, 20), seed=st.integers(0, 2**31 - 1))
def test_conv2d_fusion_exact(config, bias, step, seed):
    kwargs, size = config
    layer, generator = make_denoising(nn.Conv2d(**kwargs, bias=bias), seed, step)
    x = torch.randn(2, kwargs['in_channels'], *size, generator=generator, dtype=torch.float64)
    check_fusion(layer, x)


@pytest.mark.parametrize('padding_mode', PADDING_MODES)
def test_conv2d_same_padding_fusion_exact(padding_mode):
    """padding='same' with an even kernel pads asymmetrically; the fusion stays exact."""
    layer, generator = make_denoising(
        nn.Conv2d(4, 6, (4, 3), padding='same', dilation=(1, 2), padding_mode=padding_mode), 0, 3)
    check_fusion(layer, torch.randn(2, 4, 7, 9, generator=generator, dtype=torch.float64))


@pytest.mark.parametrize('plain', [nn.Linear(5, 7), nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)])
def test_fused_path_gradients_match_two_branch(plain):
    """In training (joint phase) the fused output and the gradients of W, b, A, a equal the reference's."""
    layer, generator = make_denoising(plain, 1, 4)
    shape = (3, 5) if isinstance(plain, nn.Linear) else (2, 4, 6, 6)
    x = torch.randn(*shape, generator=generator, dtype=torch.float64)
    upstream = torch.randn_like(layer.train()(x))
    grads = []
    for forward in (layer, lambda inp: two_branch_reference(layer, inp)):
        layer.zero_grad()
        (forward(x) * upstream).sum().backward()
        grads.append([p.grad.clone() for p in layer.parameters()])
    assert len(grads[0]) == 4
    for fused_grad, reference_grad in zip(*grads):
        torch.testing.assert_close(fused_grad, reference_grad, **TOL)


@pytest.mark.parametrize('memory_format', [torch.contiguous_format, torch.channels_last])
def test_fused_weight_keeps_the_layout_of_the_weight(memory_format):
    """W' has W's strides, so a channels-last model stays channels-last and a stock one stays stock."""
    from mmdenoiserep.core import fuse_denoiser_weights
    weight = torch.randn(6, 2, 3, 3).contiguous(memory_format=memory_format)
    fused, _ = fuse_denoiser_weights(weight, None, torch.randn(4, 2), None, 0.9, 0.1, groups=2)
    assert fused.stride() == weight.stride() and fused.is_contiguous(memory_format=memory_format)


def test_bias_free_layer_gets_bias_free_denoiser():
    layer = DenoisingConv2d.from_plain(nn.Conv2d(4, 4, 3, bias=False), step_coefficients(1))
    assert layer.denoiser.bias is None
    assert set(layer.state_dict()) == {'weight', 'denoiser.weight', 'denoiser._extra_state'}


def test_denoising_layers_construct_like_their_stock_class():
    """Direct construction: the stock constructor's arguments and defaults, a zero predictor of the right
    shape (C x C/g, a bias only with the layer's), phase 'joint', nothing recorded."""
    from mmdenoiserep.core import AffineDenoiser
    c = step_coefficients(3, 10)
    special = dict(stride=2, padding=1, dilation=2, groups=2, bias=False, padding_mode='reflect')
    for stock, made, channels, groups in [
            (nn.Linear(4, 3), DenoisingLinear(4, 3, c), 4, 1),
            (nn.Linear(4, 3, bias=False), DenoisingLinear(4, 3, c, bias=False), 4, 1),
            (nn.Conv2d(4, 6, 3), DenoisingConv2d(4, 6, 3, c), 4, 1),
            (nn.Conv2d(4, 6, 3, **special), DenoisingConv2d(4, 6, 3, c, **special), 4, 2)]:
        assert type(made).layer_kwargs(made) == type(made).layer_kwargs(stock)
        assert made.weight.shape == stock.weight.shape and (made.bias is None) == (stock.bias is None)
        assert (made.schedule, made.step, made.noise_loss, made.phase) == (c, 3, 'l1+l2', 'joint')
        assert (made.recorded_inputs, made.reuse_fused_weights) == ([], True)
        denoiser = made.denoiser
        assert denoiser.weight.shape == (channels, channels // groups) and denoiser.groups == groups
        assert denoiser.channel_dim == (1 if isinstance(made, nn.Conv2d) else -1)
        assert (denoiser.bias is None) == (stock.bias is None)
        assert all(p.abs().sum() == 0 for p in denoiser.parameters())
    for made in (DenoisingConv2d(4, 6, 3, c, noise_loss='l2', device='meta', dtype=torch.float64),
                 DenoisingLinear(4, 3, c, noise_loss='l2', device='meta', dtype=torch.float64)):
        assert made.noise_loss == 'l2' and made.weight.dtype == made.denoiser.weight.dtype == torch.float64
        assert made.weight.device.type == made.denoiser.weight.device.type == 'meta'
    assert DenoisingLinear.layer_kwargs(nn.Linear(4, 3)) == dict(in_features=4, out_features=3, bias=True)
    assert DenoisingLinear.layer_kwargs(nn.Linear(4, 3, bias=False))['bias'] is False
    assert DenoisingConv2d.layer_kwargs(nn.Conv2d(4, 6, 3, **special)) == dict(
        in_channels=4, out_channels=6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), groups=2,
        bias=False, padding_mode='reflect')
    default = AffineDenoiser(4)
    assert (default.groups, default.channel_dim, default.bias.shape, default.weight.dtype) == (
        1, -1, (4,), torch.float32)
    with pytest.raises(ValueError) as raised:
        DenoisingLinear(4, 3, c, noise_loss='l3')
    assert str(raised.value) == "noise_loss must be one of ['l1', 'l1+l2', 'l2'], got 'l3'"


@pytest.mark.parametrize('training', [True, False])
def test_conversion_both_ways_keeps_the_training_mode_and_the_plain_class(training):
    class WrappedLinear(nn.Linear):  # e.g. mmcv's wrappers
        pass

    stock = WrappedLinear(4, 3).double().train(training)
    rng = torch.get_rng_state()
    layer = DenoisingLinear.from_plain(stock, step_coefficients(1))
    assert layer.training is training and layer.weight is stock.weight and layer.bias is stock.bias
    assert layer.denoiser.weight.dtype == torch.float64
    plain = layer.to_plain()
    assert type(plain) is WrappedLinear and plain.training is training and plain.weight.dtype == torch.float64
    assert torch.equal(torch.get_rng_state(), rng)  # no throwaway Parameters initialised on the way
    conv = DenoisingConv2d.from_plain(nn.Conv2d(2, 2, 1), step_coefficients(1)).to_plain()
    assert type(conv) is nn.Conv2d
    assert type(DenoisingLinear(4, 3, step_coefficients(1)).to_plain()) is nn.Linear  # built directly


def test_fuse_denoiser_weights_by_hand_and_what_it_refuses():
    from mmdenoiserep.core import fuse_denoiser_weights
    weight, bias = torch.randn(6, 2, 3, 3, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    noise_weight = torch.randn(4, 2, dtype=torch.float64)
    for args, message in [
            ((weight, None, noise_weight, torch.randn(4)), 'a bias-free layer needs a bias-free denoiser, or '
                                                           'fusion would add a bias'),
            ((weight, bias, torch.randn(4, 4), None), 'noise_weight must have shape (4, 2), got (4, 4)')]:
        with pytest.raises(ValueError) as raised:
            fuse_denoiser_weights(*args, 0.9, 0.1, groups=2)
        assert str(raised.value) == message
    fused, fused_bias = fuse_denoiser_weights(weight, bias, noise_weight, None, 0.9, 0.1, groups=2)
    assert fused_bias is bias  # no denoiser bias a: b' = b
    eye = torch.eye(2, dtype=torch.float64)  # group g of W' = W_g (c3 I - c1 A_g), by hand
    for g in range(2):
        w_g, a_g = weight[3 * g:3 * g + 3].reshape(3, 2, 9), noise_weight[2 * g:2 * g + 2]
        by_hand = torch.einsum('ojk,ji->oik', w_g, 0.9 * eye - 0.1 * a_g)
        torch.testing.assert_close(fused[3 * g:3 * g + 3], by_hand.reshape(3, 2, 3, 3), **TOL)
    w, b, a_mat, a = (torch.randn(*shape, dtype=torch.float64) for shape in [(3, 4), (3,), (4, 4), (4,)])
    fused, fused_bias = fuse_denoiser_weights(w, b, a_mat, a, 0.9, 0.1)  # a Linear: groups defaults to 1
    torch.testing.assert_close(fused, w @ (0.9 * torch.eye(4, dtype=torch.float64) - 0.1 * a_mat), **TOL)
    torch.testing.assert_close(fused_bias, b - 0.1 * w @ a, **TOL)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16, torch.float64])
def test_fuse_denoiser_weights_keeps_the_dtype_and_device_of_the_weights(dtype):
    """W', b' in W's dtype (the identity too: a float32 one would promote or fail), on W's device (meta
    here: an identity made on the CPU would not mix with it)."""
    from mmdenoiserep.core import fuse_denoiser_weights
    torch.manual_seed(0)
    reference = [torch.randn(6, 2, 3, 3, dtype=torch.float64), torch.randn(6, dtype=torch.float64),
                 torch.randn(4, 2, dtype=torch.float64) * 0.1, torch.randn(4, dtype=torch.float64)]
    expected = fuse_denoiser_weights(*reference, 0.9, 0.1, groups=2)
    for device in ('cpu', 'meta'):
        fused = fuse_denoiser_weights(*(t.to(device, dtype) for t in reference), 0.9, 0.1, groups=2)
        assert [(t.dtype, t.device.type) for t in fused] == [(dtype, device)] * 2
        if device == 'cpu':
            for actual, value in zip(fused, expected):
                torch.testing.assert_close(actual.double(), value, rtol=2e-2, atol=2e-2)
