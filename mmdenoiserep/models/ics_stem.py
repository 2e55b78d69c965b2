"""The IBN convolution stem ("ICS") of TransReID-SSL's ViT: three convolutions before the patch projection.

TransReID-SSL (Luo et al., "Self-Supervised Pre-Training for Transformer-Based Person Re-Identification", 2021),
``transreid_pytorch/model/backbones/vit_pytorch.py`` ``PatchEmbed(stem_conv=True)``, the module of its LUPerson
ViT-S/ViT-B "+ICS" checkpoints (``dino/ours_vit.py`` ``PatchEmbed_VOLO``)::

    x (B, 3, H, W) -> conv 7x7 /2 (pad 3, no bias) -> IBN -> ReLU        (B, 64, H/2, W/2)
                   -> conv 3x3 (pad 1, no bias)    -> IBN -> ReLU
                   -> conv 3x3 (pad 1, no bias)    -> BN  -> ReLU
                   -> projection conv (P/2)x(P/2) stride P/2 (bias)      (B, C, H/P, W/P) -> (B, N, C)

IBN (Pan et al., IBN-Net, 2018): InstanceNorm2d (affine) on the first half of the channels, BatchNorm2d on
the rest. `ICSPatchEmbed` subclasses mmcv's ``PatchEmbed`` (what mmpretrain's VisionTransformer builds), whose
``projection`` is the patch projection; the stem is its ``stem`` (``nn.Sequential``: indices 0-8 as the
official ``conv``; the IBN halves are ``instance_norm`` and ``batch_norm``, the official ``IN`` and ``BN``).
"""
from typing import Sequence, Tuple

import torch
from mmcv.cnn.bricks.transformer import PatchEmbed
from torch import nn

__all__ = ['IBN', 'ICSPatchEmbed', 'ics_stem']


class IBN(nn.Module):
    """InstanceNorm2d (affine, no running statistics) on channels [0, C // 2), BatchNorm2d on the rest."""

    def __init__(self, channels: int):
        super().__init__()
        self.half = channels // 2
        self.instance_norm = nn.InstanceNorm2d(self.half, affine=True)
        self.batch_norm = nn.BatchNorm2d(channels - self.half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, rest = torch.split(x, [self.half, x.shape[1] - self.half], dim=1)
        return torch.cat([self.instance_norm(first.contiguous()), self.batch_norm(rest.contiguous())], dim=1)


def ics_stem(in_channels: int = 3, channels: int = 64, stride: int = 2) -> nn.Sequential:
    """conv7x7/stride (pad 3) - IBN - ReLU - conv3x3 - IBN - ReLU - conv3x3 - BN - ReLU, convolutions bias-free."""
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, kernel_size=7, stride=stride, padding=3, bias=False),
        IBN(channels), nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1, bias=False),
        IBN(channels), nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1, bias=False),
        nn.BatchNorm2d(channels), nn.ReLU(inplace=True))


class ICSPatchEmbed(PatchEmbed):
    """The ICS stem, then mmcv's patch projection: kernel = stride = patch_size / stem_stride, no padding.

    Args:
        in_channels: image channels.
        embed_dims: C, the token channels.
        patch_size: P, the patch of the image each token covers (16: a 8x8 projection after the /2 stem).
        input_size: (H, W) of the image, for ``init_out_size`` (the patch grid).
        stem_channels: the stem's channels (64, TransReID-SSL's ``hidden_dim``).
        stem_stride: the first convolution's stride (2, TransReID-SSL's ``stem_stride``).

    ``forward(x)``: (B, in_channels, H, W) -> ((B, N, C), (h, w)), N = h w, as mmcv's PatchEmbed.
    """

    def __init__(self, in_channels: int = 3, embed_dims: int = 768, patch_size: int = 16,
                 input_size: Sequence[int] = (256, 128), stem_channels: int = 64, stem_stride: int = 2,
                 init_cfg=None):
        kernel = patch_size // stem_stride
        stem_size = tuple((size - 1) // stem_stride + 1 for size in input_size)  # 7x7, padding 3
        super().__init__(in_channels=stem_channels, embed_dims=embed_dims, kernel_size=kernel, stride=kernel,
                         padding=0, input_size=stem_size, init_cfg=init_cfg)
        self.stem = ics_stem(in_channels, stem_channels, stem_stride)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        return super().forward(self.stem(x))
