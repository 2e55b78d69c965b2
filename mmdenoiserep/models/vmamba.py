"""``mmdenoiserep.VMamba``: VMamba (Liu et al., NeurIPS 2024) as an mmpretrain backbone, VMamba-T/S/B.

The variant of VMamba's published T/S/B checkpoints (MzeroMiko/VMamba, ``classification/configs/vssm/``
``vmambav2v_tiny_224``, ``vmambav2_small_224``, ``vmambav2_base_224``): forward type ``v05_noz``, d_state 1,
dt_rank ceil(C/16), a 3 x 3 depthwise conv without bias, MLP ratio 4, the ``v2`` stem, ``v3`` downsampling and
LayerNorm over the channels of (B, C, H, W) maps (``ln2d``, channel-first throughout):

    stem:        conv 3x3/2 (3 -> C/2) -> LN -> GELU -> conv 3x3/2 (C/2 -> C) -> LN           (B, C, H/4, W/4)
    stage i:     depth_i VSS blocks on C_i = C 2^i channels, then (i < 3) conv 3x3/2 (C_i -> 2 C_i) -> LN
    VSS block:   x = x + drop_path(SS2D(LN(x)));  x = x + drop_path(fc2(GELU(fc1(LN(x)))))   (fc: 1x1, 4 C_i)
    SS2D:        see `SS2D`; D = ssm_ratio C_i channels, K = 4 scan directions, R = dt_rank, N = d_state
    outputs:     norm<i>(stage i output), (B, C_i, H_i, W_i), for i in ``out_indices`` (the official
                 classifier's ``norm`` is ``norm3``, as mmpretrain's Swin does)

=======  =====  =============  =========  ===============  ======  ====================
arch     C      depths         ssm_ratio  drop_path_rate   params  official acc@1
=======  =====  =============  =========  ===============  ======  ====================
tiny     96     2, 2, 8, 2     1.0        0.2              30M     82.6 (vssm1_tiny_0230s)
small    96     2, 2, 15, 2    2.0        0.3              50M     83.6 (vssm1_small_0229)
base     128    2, 2, 15, 2    2.0        0.6              89M     83.9 (vssm1_base_0229)
=======  =====  =============  =========  ===============  ======  ====================

(params with a 1000-class LinearClsHead; ``tools/model_converters/vmamba_to_mmpretrain.py`` converts the
official checkpoints.) The official code applies its 1 x 1 "Linear2d" layers with ``F.conv2d``; here they are
nn.Conv2d with 1 x 1 kernels, the same function (the converter reshapes (O, I) to (O, I, 1, 1)).

DenoiseRep: every embedding layer is an exact nn.Conv2d or nn.Linear, so ``DenoiseRepBackbone`` (preset 'all')
converts the stem and downsampling convs, and per block in_proj, the depthwise conv2d, x_proj, dt_projs,
out_proj, fc1 and fc2. The per-direction weights x_proj (K, R + 2N, D) and dt_projs (K, D, R) are applied
with one einsum by `ScanProjection`, which holds them stacked as one nn.Linear (K C_out, C_in): K layers on
the same C_in input channels, one denoiser (C_in x C_in), fused as W'_k = W_k (c3 I - c1 A) for every k. The
einsum input is `ScanProjection`'s forward argument, so the weight reader registered in
``toolbox_weight_readers.py`` records it; dt_projs_bias stays the scan's delta bias (the layer is bias-free, so
its denoiser is too, as SwinV2's qkv with q_bias/v_bias).

Selective scan: `selective_scan_torch` is the reference, pure PyTorch on any device (a log-depth parallel scan
over the sequence, in float32, or float64 for float64 inputs); on CUDA, `selective_scan` uses a fused kernel
when a package provides one (VMamba's ``selective_scan_cuda_oflex`` or ``selective_scan_cuda_core``, or
``mamba_ssm``), imported on first use. ``scan_backend='torch'`` (``VMamba``, `SS2D`, `selective_scan`) forces the
reference. Weight decay in the official recipe (``classification/utils/optimizer.py`` ``set_weight_decay``): all
but 1-D parameters and ``.bias`` names, so Ds is exempt and A_logs (K D, N) and dt_projs_bias (K, D) decay (the
``_no_weight_decay`` flags of the official SS2D are never read): mmengine's ``flat_decay_mult=0`` and
``bias_decay_mult=0`` give the same groups.
"""
import functools
import importlib
import math
from collections import OrderedDict
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.utils import build_norm_layer
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

from ..registry import MODELS

__all__ = ['SCAN_BACKENDS', 'DIRECTIONS', 'cross_scan', 'cross_merge', 'selective_scan', 'selective_scan_torch',
           'ScanProjection', 'SS2D', 'VSSBlock', 'VMamba']

#: 'auto': the fused CUDA kernel for CUDA tensors when one is installed, else the PyTorch reference;
#: 'torch': always the PyTorch reference.
SCAN_BACKENDS = ('auto', 'torch')
#: K, the scan directions of SS2D: row-major, column-major, and both reversed.
DIRECTIONS = 4


def cross_scan(x: Tensor) -> Tensor:
    """(B, D, H, W) -> (B, 4, D, H W): the map read row by row, column by column, and both reversed."""
    rows, columns = x.flatten(2), x.transpose(2, 3).flatten(2)
    scans = torch.stack([rows, columns], dim=1)
    return torch.cat([scans, scans.flip(-1)], dim=1)


def cross_merge(ys: Tensor, height: int, width: int) -> Tensor:
    """(B, 4, D, H W) -> (B, D, H, W): the sum of the four scans, each put back at its map positions (the
    adjoint of `cross_scan`)."""
    forward = ys[:, :2] + ys[:, 2:].flip(-1)
    batch, _, channels, _ = ys.shape
    return (forward[:, 0].reshape(batch, channels, height, width)
            + forward[:, 1].reshape(batch, channels, width, height).transpose(2, 3))


def _linear_recurrence(decay: Tensor, drive: Tensor) -> Tensor:
    """h_t = decay_t h_{t-1} + drive_t along the last dim, h_{-1} = 0, for all t at once.

    Log-depth doubling (Hillis-Steele): after the step with offset o, position t holds the composition of
    the maps t - 2o + 1 .. t: (a, b)_t <- (a_t a_{t-o}, b_t + a_t b_{t-o}). ceil(log2 L) steps, each elementwise;
    in place on copies when no gradient is needed (the same arithmetic), out of place for autograd.
    """
    length, offset = decay.shape[-1], 1
    in_place = not (torch.is_grad_enabled() and (decay.requires_grad or drive.requires_grad))
    if in_place:
        decay, drive = decay.clone(), drive.clone()
    while offset < length:
        carried = decay[..., offset:] * drive[..., :-offset]
        if in_place:
            drive[..., offset:] += carried
        else:
            drive = torch.cat([drive[..., :offset], drive[..., offset:] + carried], -1)
        if 2 * offset < length:
            composed = decay[..., offset:] * decay[..., :-offset]
            if in_place:
                decay[..., offset:] = composed
            else:
                decay = torch.cat([decay[..., :offset], composed], -1)
        offset *= 2
    return drive


def selective_scan_torch(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor] = None,
                         delta_bias: Optional[Tensor] = None, delta_softplus: bool = True) -> Tensor:
    """The selective scan (Mamba's S6) in PyTorch, with the shapes of VMamba's kernels.

    u, delta: (b, G d, L); A: (G d, N); B, C: (b, G, N, L), group g serving channels g d .. (g + 1) d;
    D, delta_bias: (G d,). Per channel c and position t, with dt = softplus(delta + delta_bias) (or
    delta + delta_bias without ``delta_softplus``):

        h_t = exp(dt_t A_c) h_{t-1} + dt_t B_t u_t  (h in R^N, h_{-1} = 0),      y_t = C_t . h_t + D_c u_t

    Returns y (b, G d, L) in float32 (float64 for float64 u), as the kernels' float output. The scan over L
    is `_linear_recurrence` (log-depth); under autograd it keeps ~2 log2(L) tensors of (b, G d, N, L).
    """
    dtype = torch.float64 if u.dtype == torch.float64 else torch.float32
    batch, channels, length = u.shape
    groups, states = B.shape[1], B.shape[2]
    u, delta = u.to(dtype), delta.to(dtype)
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    decay = torch.exp(delta[:, :, None, :] * A.to(dtype)[None, :, :, None])  # (b, G d, N, L)
    drive = B.to(dtype)[:, :, None] * (delta * u).reshape(batch, groups, -1, 1, length)  # (b, G, d, N, L)
    states_t = _linear_recurrence(decay, drive.reshape(batch, channels, states, length))
    y = (states_t.reshape(batch, groups, -1, states, length) * C.to(dtype)[:, :, None]).sum(3)
    y = y.reshape(batch, channels, length)
    return y if D is None else y + u * D.to(dtype)[:, None]


@functools.lru_cache(maxsize=None)
def _fused_kernel() -> Optional[Tuple[str, object]]:
    """(name, module) of the first installed fused selective scan: VMamba's ``selective_scan_cuda_oflex``,
    ``selective_scan_cuda_core``, then ``mamba_ssm``'s ``selective_scan_fn``; None when none imports."""
    for name, module in (('oflex', 'selective_scan_cuda_oflex'), ('core', 'selective_scan_cuda_core'),
                         ('mamba', 'mamba_ssm.ops.selective_scan_interface')):
        try:
            return name, importlib.import_module(module)
        except (ImportError, OSError):  # not installed, or built for another CUDA/torch
            continue
    return None


class _KernelScan(torch.autograd.Function):
    """VMamba's kernels (``fwd``/``bwd`` of selective_scan_cuda_oflex or _core) as an autograd function."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, delta_bias, delta_softplus, kernel):
        name, module = kernel
        extra = (1, True) if name == 'oflex' else (1,)  # nrows; oflex: float32 output
        out, state, *_ = module.fwd(u, delta, A, B, C, D, delta_bias, delta_softplus, *extra)
        ctx.save_for_backward(u, delta, A, B, C, D, delta_bias, state)
        ctx.delta_softplus, ctx.module = delta_softplus, module
        return out

    @staticmethod
    def backward(ctx, dout):
        u, delta, A, B, C, D, delta_bias, state = ctx.saved_tensors
        du, ddelta, dA, dB, dC, dD, ddelta_bias, *_ = ctx.module.bwd(
            u, delta, A, B, C, D, delta_bias, dout.contiguous(), state, ctx.delta_softplus, 1)
        return du, ddelta, dA, dB, dC, dD, ddelta_bias, None, None


def selective_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor] = None,
                   delta_bias: Optional[Tensor] = None, delta_softplus: bool = True, backend: str = 'auto') -> Tensor:
    """`selective_scan_torch`'s function and shapes, by a fused CUDA kernel when ``backend='auto'``, the
    tensors are on CUDA in float32/float16/bfloat16 and a kernel package is installed; u, delta, B, C are
    then given in u's dtype, A, D, delta_bias in float32 (the kernels' contract). Returns float32."""
    if backend not in SCAN_BACKENDS:
        raise ValueError(f'scan backend must be one of {SCAN_BACKENDS}, got {backend!r}')
    kernel = (_fused_kernel() if backend == 'auto' and u.is_cuda
              and u.dtype in (torch.float32, torch.float16, torch.bfloat16) else None)
    if kernel is None:
        return selective_scan_torch(u, delta, A, B, C, D, delta_bias, delta_softplus)
    dtype = u.dtype
    u, delta, B, C = (t.to(dtype).contiguous() for t in (u, delta, B, C))
    A, D, delta_bias = (None if t is None else t.float().contiguous() for t in (A, D, delta_bias))
    if kernel[0] == 'mamba':
        return kernel[1].selective_scan_fn(u, delta, A, B, C, D, None, delta_bias, delta_softplus).float()
    return _KernelScan.apply(u, delta, A, B, C, D, delta_bias, delta_softplus, kernel).float()


class ScanProjection(nn.Module):
    """K linear maps on the same C_in channels, one per scan direction: y_k = W_k x_k, applied as one einsum.

    The weights are stored stacked in one bias-free nn.Linear ``linear``, weight (K C_out, C_in), W_k its rows
    k C_out .. (k + 1) C_out (VMamba's ``x_proj_weight``/``dt_projs_weight`` (K, C_out, C_in), flattened). This
    module applies the weight itself, so DenoiseRep converts ``linear`` through the weight reader registered
    for this class, which records the forward argument x as the layer's input.

    forward: x (B, K, L, C_in), channel-last (a transposed view of the scans) -> (B, K, C_out, L).
    """

    def __init__(self, in_channels: int, out_channels: int, directions: int = DIRECTIONS):
        super().__init__()
        self.directions, self.out_channels = directions, out_channels
        self.linear = nn.Linear(in_channels, directions * out_channels, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        weight = self.linear.weight.view(self.directions, self.out_channels, -1)
        return torch.einsum('bkli,koi->bkol', x, weight)


def _dt_bias(channels: int, directions: int, dt_min: float = 1e-3, dt_max: float = 0.1,
             floor: float = 1e-4) -> Tensor:
    """(K, D): softplus^-1(dt) for dt log-uniform in [dt_min, dt_max], at least ``floor`` (Mamba's dt init)."""
    dt = torch.exp(torch.rand(directions, channels) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    dt = dt.clamp(min=floor)
    return dt + torch.log(-torch.expm1(-dt))


class SS2D(nn.Module):
    """VMamba's 2-D selective scan block, forward type v05_noz, on (B, C, H, W) maps.

        x  = SiLU(conv2d(in_proj(x)))                        (B, D, H, W): in_proj 1x1 (C -> D), depthwise conv
        xs = cross_scan(x)                                    (B, K, D, L), L = H W
        (dt_r, Bs, Cs) = x_proj_k(xs_k)                       (B, K, R + 2N, L) split into R, N, N rows
        dt = dt_projs_k(dt_r)                                 (B, K, D, L)
        y_k = selective_scan(xs_k, dt_k, A_k, Bs_k, Cs_k, Ds_k, delta_bias=dt_projs_bias_k)   A = -exp(A_logs)
        out = out_proj(out_norm(cross_merge(y)))              (B, C, H, W): out_proj 1x1 (D -> C), no bias

    Parameters as the official ``op.*`` (``x_proj``/``dt_projs`` hold x_proj_weight/dt_projs_weight stacked, see
    `ScanProjection`); initialised as the official ``v0`` init (1x1 layers: truncated normal, std 0.02).
    """

    def __init__(self, channels: int, ssm_ratio: float = 2.0, d_state: int = 1, dt_rank: Union[int, str] = 'auto',
                 d_conv: int = 3, conv_bias: bool = False, scan_backend: str = 'auto'):
        super().__init__()
        if scan_backend not in SCAN_BACKENDS:
            raise ValueError(f'scan_backend must be one of {SCAN_BACKENDS}, got {scan_backend!r}')
        inner = int(ssm_ratio * channels)
        self.inner_channels, self.d_state, self.scan_backend = inner, d_state, scan_backend
        self.dt_rank = math.ceil(channels / 16) if dt_rank == 'auto' else int(dt_rank)
        self.in_proj = nn.Conv2d(channels, inner, 1, bias=False)
        self.conv2d = nn.Conv2d(inner, inner, d_conv, padding=(d_conv - 1) // 2, groups=inner, bias=conv_bias)
        self.act = nn.SiLU()
        self.x_proj = ScanProjection(inner, self.dt_rank + 2 * d_state)
        self.dt_projs = ScanProjection(self.dt_rank, inner)
        self.dt_projs_bias = nn.Parameter(_dt_bias(inner, DIRECTIONS))
        self.A_logs = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(
            DIRECTIONS * inner, 1))
        self.Ds = nn.Parameter(torch.ones(DIRECTIONS * inner))
        self.out_norm = build_norm_layer(dict(type='LN2d'), inner)
        self.out_proj = nn.Conv2d(inner, channels, 1, bias=False)
        nn.init.uniform_(self.dt_projs.linear.weight, -self.dt_rank ** -0.5, self.dt_rank ** -0.5)
        for layer in (self.in_proj, self.out_proj):
            trunc_normal_(layer.weight, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        dtype = x.dtype
        x = self.act(self.conv2d(self.in_proj(x)))
        batch, _, height, width = x.shape
        xs = cross_scan(x)  # (B, K, D, L)
        dts, Bs, Cs = self.x_proj(xs.transpose(2, 3)).split([self.dt_rank, self.d_state, self.d_state], dim=2)
        dts = self.dt_projs(dts.transpose(2, 3))  # (B, K, D, L)
        precision = torch.float64 if xs.dtype == torch.float64 else torch.float32  # the scan's, as the kernels'
        A, Ds, dt_bias = (-self.A_logs.to(precision).exp(), self.Ds.to(precision),
                          self.dt_projs_bias.to(precision).flatten())
        y = selective_scan(xs.flatten(1, 2), dts.flatten(1, 2), A, Bs, Cs, Ds, dt_bias, delta_softplus=True,
                           backend=self.scan_backend)
        y = cross_merge(y.reshape(batch, DIRECTIONS, -1, height * width), height, width)
        return self.out_proj(self.out_norm(y).to(dtype))


class VSSBlock(nn.Module):
    """x = x + drop_path(op(norm(x)));  x = x + drop_path(mlp(norm2(x)))  on (B, C, H, W), with mlp = fc2 (1x1,
    4 C -> C) . GELU . fc1 (1x1, C -> 4 C). ``with_cp``: the block runs under torch.utils.checkpoint when
    gradients are enabled (activations recomputed in backward)."""

    def __init__(self, channels: int, drop_path: float = 0.0, mlp_ratio: float = 4.0,
                 norm_cfg: Optional[dict] = None, with_cp: bool = False, **ssm_kwargs):
        super().__init__()
        norm_cfg = dict(type='LN2d') if norm_cfg is None else norm_cfg
        hidden = int(channels * mlp_ratio)
        self.with_cp = with_cp
        self.norm = build_norm_layer(norm_cfg, channels)
        self.op = SS2D(channels, **ssm_kwargs)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, channels)
        self.mlp = nn.Sequential(OrderedDict(fc1=nn.Conv2d(channels, hidden, 1), act=nn.GELU(),
                                             fc2=nn.Conv2d(hidden, channels, 1)))
        for layer in (self.mlp.fc1, self.mlp.fc2):
            trunc_normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)

    def _forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.op(self.norm(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def forward(self, x: Tensor) -> Tensor:
        if self.with_cp and torch.is_grad_enabled():
            return checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)


class VSSLayer(nn.Module):
    """One stage as the official ``layers.<i>``: ``blocks`` (nn.Sequential of VSSBlock) and ``downsample``
    (conv 3x3/2 + norm, None in the last stage), applied in that order by `VMamba.forward`."""

    def __init__(self, blocks: Sequence[VSSBlock], downsample: Optional[nn.Module]):
        super().__init__()
        self.blocks = nn.Sequential(*blocks)
        self.downsample = downsample


@MODELS.register_module()
class VMamba(BaseBackbone):
    """VMamba backbone (v05_noz VSS blocks; see the module docstring).

    Args:
        arch (str | dict): 'tiny', 'small' or 'base', or a dict with ``embed_dims``, ``depths`` and
            ``ssm_ratio``, and optionally ``d_state`` (1), ``dt_rank`` ('auto': ceil(C_i / 16)), ``d_conv`` (3),
            ``conv_bias`` (False), ``mlp_ratio`` (4.0), ``drop_path_rate`` (0.1). Defaults to 'tiny'.
        in_channels (int): input channels. Defaults to 3.
        patch_size (int): the stem's total stride (two convs of stride patch_size / 2). Defaults to 4.
        drop_path_rate (float, optional): stochastic depth, linear over all blocks from 0; None: the arch's
            (tiny 0.2, small 0.3, base 0.6, the official recipes). Defaults to None.
        out_indices (Sequence[int] | int): stages whose outputs are returned, each through its norm
            ``norm<i>``. Defaults to (3,).
        frozen_stages (int): the stem and stages 0 .. frozen_stages (with their downsampling and output
            norms) are frozen and kept in eval mode; -1 freezes nothing. Defaults to -1.
        norm_eval (bool): keep batch-norm layers (norm_cfg BN) in eval mode in training. Defaults to False.
        with_cp (bool): gradient checkpointing per VSS block. Defaults to False.
        norm_cfg (dict): the stem, block, downsampling and output norms, one over the channels of (B, C, H, W)
            (mmpretrain's registry). Defaults to dict(type='LN2d'). SS2D's out_norm is always LN2d.
        scan_backend (str): 'auto' or 'torch' (see `selective_scan`). Defaults to 'auto'.
        init_cfg (dict, optional): mmengine init config. Defaults to None.

    forward: (B, in_channels, H, W) -> tuple of (B, C_i, H_i, W_i) for i in out_indices, C_i = embed_dims 2^i,
    H_i = ceil(H / (4 2^i)) with patch_size 4.
    """

    arch_zoo = {
        'tiny': dict(embed_dims=96, depths=(2, 2, 8, 2), ssm_ratio=1.0, drop_path_rate=0.2),
        'small': dict(embed_dims=96, depths=(2, 2, 15, 2), ssm_ratio=2.0, drop_path_rate=0.3),
        'base': dict(embed_dims=128, depths=(2, 2, 15, 2), ssm_ratio=2.0, drop_path_rate=0.6),
    }
    arch_defaults = dict(d_state=1, dt_rank='auto', d_conv=3, conv_bias=False, mlp_ratio=4.0, drop_path_rate=0.1)
    ssm_keys = ('d_state', 'dt_rank', 'd_conv', 'conv_bias')

    def __init__(self, arch: Union[str, dict] = 'tiny', in_channels: int = 3, patch_size: int = 4,
                 drop_path_rate: Optional[float] = None, out_indices: Union[int, Sequence[int]] = (3,),
                 frozen_stages: int = -1, norm_eval: bool = False, with_cp: bool = False,
                 norm_cfg: Optional[dict] = None, scan_backend: str = 'auto', init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = settings = self._arch_settings(arch)
        norm_cfg = dict(type='LN2d') if norm_cfg is None else norm_cfg
        depths, embed_dims = list(settings['depths']), settings['embed_dims']
        self.num_stages = len(depths)
        self.num_features = [embed_dims * 2 ** i for i in range(self.num_stages)]
        out_indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        if not out_indices or any(not -self.num_stages <= i < self.num_stages for i in out_indices):
            raise ValueError(f'out_indices must be stage indices in [-{self.num_stages}, {self.num_stages}), '
                             f'got {out_indices}')
        self.out_indices = tuple(sorted({i % self.num_stages for i in out_indices}))
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        rate = settings['drop_path_rate'] if drop_path_rate is None else drop_path_rate
        rates = torch.linspace(0, rate, sum(depths), device='cpu').tolist()

        stride = patch_size // 2
        self.patch_embed = nn.Sequential(OrderedDict(
            conv1=nn.Conv2d(in_channels, embed_dims // 2, stride + 1, stride, padding=1),
            norm1=build_norm_layer(norm_cfg, embed_dims // 2), act=nn.GELU(),
            conv2=nn.Conv2d(embed_dims // 2, embed_dims, stride + 1, stride, padding=1),
            norm2=build_norm_layer(norm_cfg, embed_dims)))
        ssm = {key: settings[key] for key in self.ssm_keys}
        self.layers = nn.ModuleList()
        for i, (depth, channels) in enumerate(zip(depths, self.num_features)):
            blocks = [VSSBlock(channels, rates.pop(0), settings['mlp_ratio'], norm_cfg, with_cp,
                               ssm_ratio=settings['ssm_ratio'], scan_backend=scan_backend, **ssm) for _ in range(depth)]
            downsample = None if i == self.num_stages - 1 else nn.Sequential(OrderedDict(
                conv=nn.Conv2d(channels, 2 * channels, 3, 2, padding=1), norm=build_norm_layer(norm_cfg, 2 * channels)))
            self.layers.append(VSSLayer(blocks, downsample))
        for i in self.out_indices:
            self.add_module(f'norm{i}', build_norm_layer(norm_cfg, self.num_features[i]))
        self._freeze_stages()

    @classmethod
    def _arch_settings(cls, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            if arch.lower() not in cls.arch_zoo:
                raise ValueError(f'VMamba arch must be one of {sorted(cls.arch_zoo)} or a dict, got {arch!r}')
            return {**cls.arch_defaults, **cls.arch_zoo[arch.lower()]}
        essential = {'embed_dims', 'depths', 'ssm_ratio'}
        if not isinstance(arch, dict) or not essential <= set(arch) or not set(arch) <= essential | set(
                cls.arch_defaults):
            raise ValueError(f'a custom VMamba arch is a dict with the keys {sorted(essential)} and optionally '
                             f'{sorted(cls.arch_defaults)}, got {arch!r}')
        return {**cls.arch_defaults, **arch}

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.patch_embed(x)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer.blocks(x)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
            if layer.downsample is not None:
                x = layer.downsample(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        frozen = [self.patch_embed] if self.frozen_stages >= 0 else []
        frozen += [self.layers[i] for i in range(min(self.frozen_stages + 1, self.num_stages))]
        frozen += [getattr(self, f'norm{i}') for i in self.out_indices if i <= self.frozen_stages]
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
