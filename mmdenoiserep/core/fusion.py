"""Exact fusion of an affine denoiser into the following Linear/Conv2d layer (method.md section 4).

With eps_hat = A x + a and x_hat = c3 x - c1 eps_hat, a layer y = W * x_hat + b equals one layer with
    W' = W (c3 I - c1 A),    b' = b - c1 W a,
where the products contract the layer's input-channel index within each group. For a Conv2d the identity
holds for every kernel size, stride, dilation, groups and padding mode when the denoiser acts on the
padded input (which is what `DenoisingConv2d` computes). Pure tensor math, differentiable in every input.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

__all__ = ['fuse_denoiser_weights']


def fuse_denoiser_weights(weight: Tensor, bias: Optional[Tensor], noise_weight: Tensor,
                          noise_bias: Optional[Tensor], c3: float, c1: float,
                          groups: int = 1) -> Tuple[Tensor, Optional[Tensor]]:
    """Fold the affine denoiser (A, a) into the layer (W, b).

    Args:
        weight: W, shape (O, C/g, *kernel) (Linear: (O, C)).
        bias: b, shape (O,), or None.
        noise_weight: A, shape (C, C/g): group k maps input channels k*C/g.. to output channels k*C/g..
        noise_bias: a, shape (C,), or None. Must be None when ``bias`` is None (a bias-free layer stays
            bias-free).
        c3, c1: reverse-step coefficients of the layer's diffusion step.
        groups: g, the layer's number of groups (1 for Linear).

    Returns:
        (W', b'): W' = W (c3 I - c1 A) with W's shape and memory layout (strides); b' = b - c1 W a (None
        if ``bias`` is None).
    """
    if bias is None and noise_bias is not None:
        raise ValueError('a bias-free layer needs a bias-free denoiser, or fusion would add a bias')
    out_channels, group_channels = weight.shape[:2]
    if noise_weight.shape != (group_channels * groups, group_channels):
        raise ValueError(f'noise_weight must have shape {(group_channels * groups, group_channels)}, '
                         f'got {tuple(noise_weight.shape)}')
    w = weight.reshape(groups, out_channels // groups, group_channels, -1)  # (g, O/g, C/g, K)
    a_mat = noise_weight.reshape(groups, group_channels, group_channels)  # A[g, j, i]
    eye = torch.eye(group_channels, dtype=weight.dtype, device=weight.device)
    mix = c3 * eye - c1 * a_mat  # (g, C/g, C/g)
    fused_weight = torch.einsum('gojk,gji->goik', w, mix).reshape(weight.shape)
    # The einsum's output layout is its own (channels-last for a conv); give W' the layout of W, so that
    # the layer's output has the stock layout: kernels that assume contiguous inputs (mmcv's RoIAlign on
    # the CPU) read other layouts wrongly, and the deployed model runs with the stock layer's strides.
    fused_weight = torch.empty_like(weight).copy_(fused_weight)
    if noise_bias is None:
        return fused_weight, bias
    shift = torch.einsum('gojk,gj->go', w, noise_bias.reshape(groups, group_channels))
    return fused_weight, bias - c1 * shift.reshape(out_channels)
