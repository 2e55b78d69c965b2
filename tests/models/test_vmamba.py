"""mmdenoiserep.VMamba: the PyTorch selective scan and cross scan against explicit constructions (float64), the
T/S/B parameter counts, DenoiseRep on every embedding layer (two-branch = fused, float64) and the
with_cp/frozen_stages/norm_eval behaviour."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import MODELS, init_default_scope
from torch import nn
from torch.utils.checkpoint import checkpoint

from mmdenoiserep import denoise_loss, denoiser_parameters, denoising_layers, fuse_denoisers, set_phase
from mmdenoiserep.models import vmamba
from mmdenoiserep.models.vmamba import VMamba, cross_merge, cross_scan, selective_scan, selective_scan_torch

SMALL = dict(embed_dims=32, depths=[1, 1, 2, 1], ssm_ratio=2.0)
BLOCK_LAYERS = ['op.in_proj', 'op.conv2d', 'op.x_proj.linear', 'op.dt_projs.linear', 'op.out_proj', 'mlp.fc1',
                'mlp.fc2']


@pytest.fixture
def one_thread():
    """torch's float64 grouped conv opens a parallel region per group: on a busy 2-core machine one thread
    ran the depthwise convs of this file 1000 times faster (0.3 ms against 1 s a call)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def recurrence(u, delta, A, B, C, D, delta_bias, softplus):
    """The selective scan step by step, channel by channel, as its definition reads (float64)."""
    batch, channels, length = u.shape
    groups, states = B.shape[1:3]
    y = torch.zeros(batch, channels, length, dtype=torch.float64)
    for b in range(batch):
        for c in range(channels):
            g = c // (channels // groups)
            h = torch.zeros(states, dtype=torch.float64)
            for t in range(length):
                dt = delta[b, c, t] + (0 if delta_bias is None else delta_bias[c])
                dt = F.softplus(dt) if softplus else dt
                h = torch.exp(dt * A[c]) * h + dt * B[b, g, :, t] * u[b, c, t]
                y[b, c, t] = (C[b, g, :, t] * h).sum() + (0 if D is None else D[c] * u[b, c, t])
    return y


def scan_inputs(batch, groups, channels, states, length, seed):
    generator = torch.Generator().manual_seed(seed)
    randn = lambda *shape: torch.randn(*shape, generator=generator, dtype=torch.float64)  # noqa: E731
    return dict(u=randn(batch, groups * channels, length), delta=randn(batch, groups * channels, length),
                A=-torch.rand(groups * channels, states, generator=generator, dtype=torch.float64) * 3,
                B=randn(batch, groups, states, length), C=randn(batch, groups, states, length),
                D=randn(groups * channels), delta_bias=randn(groups * channels))


@pytest.mark.parametrize('shape', [(2, 4, 3, 1, 37), (1, 2, 2, 3, 64), (2, 1, 1, 2, 1), (1, 4, 2, 1, 100)])
@pytest.mark.parametrize('softplus', [True, False])
def test_selective_scan_equals_the_recurrence(shape, softplus):
    inputs = scan_inputs(*shape, seed=sum(shape))
    if not softplus:  # dt > 0 without the softplus
        inputs['delta'] = inputs['delta'].abs()
        inputs['delta_bias'] = inputs['delta_bias'].abs()
    expected = recurrence(**inputs, softplus=softplus)
    actual = selective_scan_torch(**inputs, delta_softplus=softplus)
    assert actual.dtype == torch.float64 and actual.shape == expected.shape
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-10)
    without = dict(inputs, D=None, delta_bias=None)
    torch.testing.assert_close(selective_scan_torch(**without, delta_softplus=softplus),
                               recurrence(**without, softplus=softplus), rtol=1e-10, atol=1e-10)


def test_selective_scan_gradients_equal_the_recurrences():
    """The autograd path (out of place) computes what the no-grad path (in place) computes, with the
    recurrence's gradients; backend 'torch' and, on the CPU, 'auto' are that same function."""
    inputs = scan_inputs(1, 2, 2, 2, 19, seed=3)
    with torch.no_grad():
        reference = selective_scan_torch(**inputs)
    leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
    out = selective_scan_torch(**leaves)
    torch.testing.assert_close(out, reference, rtol=0, atol=0)
    weights = torch.randn(out.shape, dtype=torch.float64)
    grads = torch.autograd.grad((out * weights).sum(), list(leaves.values()))
    copies = {k: v.clone().requires_grad_() for k, v in inputs.items()}
    expected = torch.autograd.grad((recurrence(**copies, softplus=True) * weights).sum(), list(copies.values()))
    for actual, wanted in zip(grads, expected):
        torch.testing.assert_close(actual, wanted, rtol=1e-10, atol=1e-10)
    for backend in ('torch', 'auto'):
        torch.testing.assert_close(selective_scan(**inputs, backend=backend), reference, rtol=0, atol=0)
    with pytest.raises(ValueError, match="scan backend must be one of \\('auto', 'torch'\\), got 'cuda'"):
        selective_scan(**inputs, backend='cuda')


def test_the_kernel_wrapper_calls_vmambas_kernel_signatures():
    """`_KernelScan` with a stand-in for selective_scan_cuda_oflex (fwd/bwd as its csrc declares them, computed
    by the reference): same values and gradients as the reference, float32 output asked for."""
    calls = []

    class Oflex:
        @staticmethod
        def fwd(u, delta, A, B, C, D, delta_bias, delta_softplus, nrows, out_float):
            calls.append(('fwd', nrows, out_float))
            return selective_scan_torch(u, delta, A, B, C, D, delta_bias, delta_softplus), torch.zeros(1)

        @staticmethod
        def bwd(u, delta, A, B, C, D, delta_bias, dout, state, delta_softplus, nrows):
            calls.append(('bwd', nrows, state.shape))
            leaves = [t.detach().requires_grad_() for t in (u, delta, A, B, C, D, delta_bias)]
            with torch.enable_grad():  # backward runs without grad mode
                return torch.autograd.grad(selective_scan_torch(*leaves, delta_softplus), leaves, dout)

    inputs = scan_inputs(1, 4, 2, 1, 9, seed=5)
    leaves = [v.clone().requires_grad_() for v in inputs.values()]
    out = vmamba._KernelScan.apply(*leaves, True, ('oflex', Oflex))
    expected = [v.clone().requires_grad_() for v in inputs.values()]
    reference = selective_scan_torch(*expected)
    torch.testing.assert_close(out, reference, rtol=0, atol=0)
    out.sum().backward()
    reference.sum().backward()
    for actual, wanted in zip(leaves, expected):
        torch.testing.assert_close(actual.grad, wanted.grad, rtol=1e-12, atol=1e-12)
    assert calls == [('fwd', 1, True), ('bwd', 1, (1,))]


def test_float32_inputs_scan_in_float32():
    inputs = {k: v.float() for k, v in scan_inputs(1, 4, 2, 1, 30, seed=4).items()}
    out = selective_scan(**{**inputs, 'u': inputs['u'].half()})
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), recurrence(**{k: v.double() for k, v in inputs.items()},
                                                        softplus=True), rtol=1e-2, atol=1e-2)


def test_cross_scan_and_merge_are_the_four_directions():
    height, width = 3, 5
    x = torch.randn(2, 4, height, width, dtype=torch.float64)
    rows = [(t // width, t % width) for t in range(height * width)]
    columns = [(t % height, t // height) for t in range(height * width)]
    orders = [rows, columns, rows[::-1], columns[::-1]]
    expected = torch.stack([torch.stack([x[:, :, i, j] for i, j in order], -1) for order in orders], 1)
    torch.testing.assert_close(cross_scan(x), expected, rtol=0, atol=0)
    ys = torch.randn(2, 4, 4, height * width, dtype=torch.float64)
    merged = torch.zeros_like(x)
    for k, order in enumerate(orders):
        for t, (i, j) in enumerate(order):
            merged[:, :, i, j] += ys[:, k, :, t]
    torch.testing.assert_close(cross_merge(ys, height, width), merged, rtol=0, atol=1e-15)


def count(arch):
    with torch.device('meta'):
        backbone = VMamba(arch)
    return sum(p.numel() for p in backbone.parameters()) + backbone.num_features[-1] * 1000 + 1000


def test_tiny_small_base_have_the_published_sizes():
    """30M / 50M / 89M with a 1000-class head (VMamba's assets/performance.md), the official models' counts."""
    counts = {arch: count(arch) for arch in ('tiny', 'small', 'base')}
    assert counts == {'tiny': 30_249_064, 'small': 50_147_752, 'base': 88_557_800}
    assert [round(n / 1e6) for n in counts.values()] == [30, 50, 89]


def test_classifier_config_and_outputs(one_thread):
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(dict(type='ImageClassifier', backbone=dict(type='mmdenoiserep.VMamba', arch=SMALL),
                              neck=dict(type='GlobalAveragePooling'),
                              head=dict(type='LinearClsHead', num_classes=7, in_channels=256)))
    assert type(model.backbone) is VMamba and model.backbone.arch_settings['drop_path_rate'] == 0.1
    assert model.eval()(torch.randn(2, 3, 64, 64), mode='tensor').shape == (2, 7)
    backbone = VMamba(SMALL, out_indices=(0, 1, -2, 3), scan_backend='torch').eval()
    outs = backbone(torch.randn(1, 3, 64, 48))
    assert [tuple(o.shape) for o in outs] == [(1, 32, 16, 12), (1, 64, 8, 6), (1, 128, 4, 3), (1, 256, 2, 2)]
    assert {f'norm{i}' for i in range(4)} <= {name for name, _ in backbone.named_children()}
    with pytest.raises(ValueError, match='arch must be one of'):
        VMamba('huge')
    with pytest.raises(ValueError, match='a custom VMamba arch is a dict with the keys'):
        VMamba(dict(SMALL, num_heads=3))
    with pytest.raises(ValueError, match='out_indices must be stage indices'):
        VMamba(SMALL, out_indices=(4,))
    with pytest.raises(ValueError, match='scan_backend must be one of'):
        VMamba(SMALL, scan_backend='cuda')


class TwoBranchConv(nn.Module):
    """pad (zeros), x_hat = c3 x - c1 (A x + a) at every position, then the conv without padding."""

    def __init__(self, conv, denoiser, c3, c1):
        super().__init__()
        self.conv, self.weight, self.bias, self.c3, self.c1 = conv, denoiser.weight, denoiser.bias, c3, c1

    def forward(self, x):
        x = F.pad(x, [p for p in reversed(self.conv.padding) for _ in range(2)])
        x_hat = self.c3 * x - self.c1 * F.conv2d(x, self.weight[:, :, None, None], self.bias, groups=self.conv.groups)
        return F.conv2d(x_hat, self.conv.weight, self.conv.bias, self.conv.stride, 0, self.conv.dilation,
                        self.conv.groups)


def two_branch(plain, converted):
    """``plain`` whose converted layers denoise their input explicitly (method.md section 4, unfused)."""
    reference = copy.deepcopy(plain)
    for name, layer in denoising_layers(converted):
        c3, c1 = layer.coefficients
        parent, _, child = name.rpartition('.')
        if isinstance(layer, nn.Conv2d):
            setattr(reference.get_submodule(parent), child,
                    TwoBranchConv(reference.get_submodule(name), layer.denoiser, c3, c1))
        else:  # a ScanProjection's stacked weight: denoise the owner's input, (B, K, L, C_in)
            def denoise(owner, args, denoiser=layer.denoiser, c3=c3, c1=c1):
                return (c3 * args[0] - c1 * F.linear(args[0], denoiser.weight, denoiser.bias),)
            reference.get_submodule(parent).register_forward_pre_hook(denoise)
    return reference


def build(cfg):
    init_default_scope('mmpretrain')
    return MODELS.build(cfg)


def test_denoiserep_converts_every_embedding_layer_and_fuses_exactly(one_thread):
    torch.manual_seed(0)
    backbone = dict(type='mmdenoiserep.VMamba', arch=SMALL, out_indices=(1, 3), drop_path_rate=0)
    model = build(dict(type='mmdenoiserep.DenoiseRepBackbone', example_input_shape=(1, 3, 32, 32), backbone=backbone))
    blocks = [f'layers.{i}.blocks.{j}' for i, depth in enumerate(SMALL['depths']) for j in range(depth)]
    per_stage = [[f'{block}.{layer}' for block in blocks if block.startswith(f'layers.{i}.')
                  for layer in BLOCK_LAYERS] + ([f'layers.{i}.downsample.conv'] if i < 3 else []) for i in range(4)]
    expected = ['patch_embed.conv1', 'patch_embed.conv2'] + sum(per_stage, [])
    layers = denoising_layers(model)
    steps = {name: layer.step for name, layer in layers}
    assert sorted(steps) == sorted(expected) and len(expected) == 40
    assert [steps[name] for name in expected] == list(range(40, 0, -1))  # execution order
    assert model.layers[0].blocks[0].op.x_proj.linear.denoiser.weight.shape == (64, 64)
    assert model.layers[0].blocks[0].op.dt_projs.linear.denoiser.bias is None  # bias-free stacked layers

    plain = build(backbone).double().eval()
    model.double().eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if '.denoiser.' not in k}, strict=True)
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    set_phase(model, 'denoise')
    with torch.no_grad():
        for actual, stock in zip(model.train()(x), plain.train()(x)):  # the denoise phase computes the stock model
            torch.testing.assert_close(actual, stock, rtol=1e-12, atol=1e-12)
    assert set(denoise_loss(model, per_layer=True)) == set(expected)  # every layer records its input
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in denoiser_parameters(model):
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * 0.5)
        set_phase(model, 'joint')
        unfused = two_branch(plain, model)(x)
        converted = model.eval()(x)
        fused = fuse_denoisers(model)
        assert not denoising_layers(fused) and not any('denoiser' in k for k in fused.state_dict())
        plain_fused = VMamba(SMALL, out_indices=(1, 3)).double().eval()
        plain_fused.load_state_dict(fused.state_dict(), strict=True)
        for reference, *others in zip(unfused, converted, plain_fused(x), fused(x)):
            for other in others:
                torch.testing.assert_close(other, reference, rtol=1e-9, atol=1e-9)
        assert max((a - b).abs().max() for a, b in zip(unfused, plain(x))) > 1e-6  # the denoisers act


def test_preset_all_converts_103_layers_of_tiny():
    model = build(dict(type='mmdenoiserep.DenoiseRepBackbone', example_input_shape=(1, 3, 32, 32),
                       backbone=dict(type='mmdenoiserep.VMamba', arch='tiny')))
    names = [name for name, _ in denoising_layers(model)]
    assert len(names) == 2 + 3 + 14 * 7
    assert sum(name.endswith(('x_proj.linear', 'dt_projs.linear')) for name in names) == 28


def test_with_cp_recomputes_each_block_with_the_same_gradients(monkeypatch, one_thread):
    calls = []
    monkeypatch.setattr(vmamba, 'checkpoint', lambda *args, **kwargs: calls.append(1) or checkpoint(*args, **kwargs))
    x = torch.randn(2, 3, 32, 32)
    grads = []
    for with_cp in (False, True):
        torch.manual_seed(0)
        model = VMamba(SMALL, drop_path_rate=0.2, with_cp=with_cp).train()
        torch.manual_seed(1)  # the same drop-path draws
        model(x)[0].square().sum().backward()
        grads.append([p.grad for p in model.parameters()])
    assert len(calls) == sum(SMALL['depths'])
    for actual, expected in zip(*grads):  # the recomputed forward is the same computation
        torch.testing.assert_close(actual, expected, rtol=1e-6, atol=1e-6)
    with torch.no_grad():
        model(x)
    assert len(calls) == sum(SMALL['depths'])  # no checkpointing without gradients



def test_frozen_stages_and_norm_eval():
    model = VMamba(SMALL, out_indices=(0, 1, 2), frozen_stages=1)
    model.train()
    frozen = [model.patch_embed, model.layers[0], model.layers[1], model.norm0, model.norm1]
    assert all(not m.training for part in frozen for m in part.modules())
    assert all(not p.requires_grad for part in frozen for p in part.parameters())
    assert all(p.requires_grad for part in (model.layers[2], model.layers[3], model.norm2) for p in part.parameters())
    assert model.layers[2].training and model.norm2.training
    for norm_eval in (False, True):
        model = VMamba(SMALL, norm_cfg=dict(type='BN'), norm_eval=norm_eval).train()
        norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        assert len(norms) == 2 + 2 * 5 + 3 + 1 and all(m.training != norm_eval for m in norms)
        assert all(m.training for m in model.modules() if isinstance(m, nn.LayerNorm))  # SS2D's out_norm


def channel_layer_norm(x, norm):
    """LayerNorm over the channels of a (B, C, H, W) map, written out."""
    mean = x.mean(1, keepdim=True)
    var = x.var(1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + norm.eps) * norm.weight[:, None, None] + norm.bias[:, None, None]


def reference_ss2d(op, x):
    """SS2D (v05_noz) from its definition, direction by direction with explicit position orders, each direction's
    scan by the step-by-step `recurrence` (float64): no code of the module under test but its parameters."""
    channels = op.inner_channels
    rank, states = op.dt_rank, op.d_state
    z = F.conv2d(x, op.in_proj.weight)
    z = F.silu(F.conv2d(z, op.conv2d.weight, op.conv2d.bias, padding=op.conv2d.padding, groups=channels))
    height, width = z.shape[2:]
    rows = [(i, j) for i in range(height) for j in range(width)]
    columns = [(i, j) for j in range(width) for i in range(height)]
    orders = [rows, columns, rows[::-1], columns[::-1]]
    x_proj = op.x_proj.linear.weight.view(4, rank + 2 * states, channels)
    dt_projs = op.dt_projs.linear.weight.view(4, channels, rank)
    A = -torch.exp(op.A_logs).view(4, channels, states)
    Ds, dt_bias = op.Ds.view(4, channels), op.dt_projs_bias.view(4, channels)
    merged = torch.zeros_like(z)
    for k, order in enumerate(orders):
        sequence = torch.stack([z[:, :, i, j] for i, j in order], dim=-1)  # (B, D, L)
        dt_low, B, C = torch.einsum('oi,bil->bol', x_proj[k], sequence).split([rank, states, states], dim=1)
        dt = torch.einsum('dr,brl->bdl', dt_projs[k], dt_low)
        y = recurrence(sequence, dt, A[k], B[:, None], C[:, None], Ds[k], dt_bias[k], softplus=True)
        for t, (i, j) in enumerate(order):
            merged[:, :, i, j] += y[:, :, t]
    return F.conv2d(channel_layer_norm(merged, op.out_norm), op.out_proj.weight)


def randomise(module, seed):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype) * 0.5)


@pytest.mark.parametrize('ssm_ratio, height, width', [(1.0, 3, 4), (2.0, 4, 2)])
def test_ss2d_and_vss_block_equal_their_definitions(ssm_ratio, height, width, one_thread):
    """SS2D and the VSS block against a reference written from VMamba's definition (float64, eval): the four
    directions, x_proj / dt_projs per direction, A = -exp(A_logs), D, the softplus delta bias, the cross merge,
    out_norm, out_proj, and the block's two pre-norm residual branches."""
    torch.manual_seed(0)
    block = vmamba.VSSBlock(8, ssm_ratio=ssm_ratio, d_state=2, dt_rank=3, scan_backend='torch').double().eval()
    randomise(block, seed=1)
    x = torch.randn(2, 8, height, width, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(block.op(x), reference_ss2d(block.op, x), rtol=1e-9, atol=1e-9)
        hidden = x + reference_ss2d(block.op, channel_layer_norm(x, block.norm))
        mlp = F.conv2d(F.gelu(F.conv2d(channel_layer_norm(hidden, block.norm2), block.mlp.fc1.weight,
                                       block.mlp.fc1.bias)), block.mlp.fc2.weight, block.mlp.fc2.bias)
        torch.testing.assert_close(block(x), hidden + mlp, rtol=1e-9, atol=1e-9)
