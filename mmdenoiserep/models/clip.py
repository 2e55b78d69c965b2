"""CLIP's encoders (Radford et al., 2021) in the form CLIP-ReID (Li et al., AAAI 2023) uses them.

Written from openai/CLIP ``clip/model.py`` and Syliz517/CLIP-ReID ``model/clip/model.py``. The module and
Parameter names are the official ones, so an official state_dict maps 1:1 (``visual.X`` -> the image
encoder's ``X``, every text key -> the text encoder's; ``tools/model_converters/clip_to_mmdenoiserep.py``):

``mmdenoiserep.CLIPImageEncoder`` (CLIP's ``VisionTransformer`` with CLIP-ReID's changes), on (B, 3, H, W):

    x = conv1(img)                                  patches (B, C, h, w): kernel P, stride S (S < P: overlapping)
    x = [class_embedding (+ sie_coe cv_embed[cam]), x_1 .. x_hw] + positional_embedding      (B, 1 + h w, C)
    x11 = blocks 1 .. L-1 (ln_pre(x));  x12 = ln_post(block L (x11));  xproj = x12 @ proj
    returns (x11, x12, xproj): (B, 1 + h w, C), (B, 1 + h w, C), (B, 1 + h w, D)

    with h = (H - P) // S + 1, w = (W - P) // S + 1 (no padding). ``cv_embed`` (num_cameras, C) is the SIE camera
    embedding, added to the class token only, before the position embedding (CLIP-ReID keeps it in its model,
    ``build_transformer.cv_embed``; here it is the encoder's, so the backbone alone sees the cameras).
    ``positional_embedding`` (1 + h w, C) is for ``img_size``; a state_dict holding another grid (CLIP's 14 x
    14 at 224 px) is resized on load, and an input of another size resizes it for that forward: the patch grid
    bilinearly (``F.interpolate``, align_corners False), the class position kept (CLIP-ReID ``resize_pos_embed``).

``mmdenoiserep.CLIPTextEncoder`` (the text half of CLIP's ``CLIP``: ``encode_text``), on token embeddings:

    x = ln_final(blocks(embeddings (B, L, C) + positional_embedding[:L], causal mask))
    returns x[b, eot_b] @ text_projection                                                             (B, D)

    Tokens after the end-of-text token never reach it under the causal mask: running only the first L tokens
    (through the last EOT) gives exactly the output of the full 77-token context.

Blocks (``ResidualAttentionBlock``): x = x + attn(ln_1(x)), x = x + mlp(ln_2(x)), ``attn`` an
nn.MultiheadAttention on (L, B, C) sequences, ``mlp`` = c_fc -> QuickGELU (x sigmoid(1.702 x)) -> c_proj.
CLIP's fp16 LayerNorm subclass is nn.LayerNorm here (AMP runs layer norms in float32). DenoiseRep: the image
encoder's conv1, and per block attn.in_proj and attn.out_proj (through ``MultiheadAttentionReader``), mlp.c_fc
and mlp.c_proj are its embedding layers (preset 'all': 1 + 4 L); ``proj`` is a bare Parameter applied as
x @ proj, no layer type of the preset, and stays as it is.
"""
import contextlib
import math
from collections import OrderedDict
from typing import Iterator, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from ..registry import MODELS
from ..utils import InputError

__all__ = ['QuickGELU', 'ResidualAttentionBlock', 'CLIPTransformer', 'CLIPImageEncoder', 'CLIPTextEncoder',
           'resize_position_grid', 'causal_mask']


class QuickGELU(nn.Module):
    """CLIP's GELU approximation: x sigmoid(1.702 x)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """x + attn(ln_1(x)), then x + mlp(ln_2(x)), on (L, B, C) sequences; ``attn_mask`` (L, L) is additive."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([('c_fc', nn.Linear(width, 4 * width)), ('gelu', QuickGELU()),
                                              ('c_proj', nn.Linear(4 * width, width))]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: Tensor, attn_mask: Optional[Tensor] = None) -> Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class CLIPTransformer(nn.Module):
    """``layers`` residual attention blocks (``resblocks``) of ``width`` channels and ``heads`` heads."""

    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.width, self.layers = width, layers
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x: Tensor, attn_mask: Optional[Tensor] = None, blocks: Optional[slice] = None) -> Tensor:
        """(L, B, C) -> (L, B, C) through ``resblocks[blocks]`` (all by default)."""
        for block in self.resblocks[blocks or slice(None)]:
            x = block(x, attn_mask)
        return x


def resize_position_grid(grid: Tensor, size: Tuple[int, int], new_size: Tuple[int, int]) -> Tensor:
    """(h w, C) position embeddings of an h x w patch grid -> (h' w', C) for ``new_size`` (bilinear)."""
    if tuple(size) == tuple(new_size):
        return grid
    maps = grid.reshape(1, size[0], size[1], -1).permute(0, 3, 1, 2)
    maps = F.interpolate(maps, size=tuple(new_size), mode='bilinear', align_corners=False)
    return maps.permute(0, 2, 3, 1).reshape(new_size[0] * new_size[1], -1)


def causal_mask(length: int, dtype: torch.dtype, device) -> Tensor:
    """(L, L) additive mask: 0 on and below the diagonal, -inf above (a token sees itself and earlier ones)."""
    return torch.full((length, length), float('-inf'), dtype=dtype, device=device).triu(1)


def _pair(value: Union[int, Sequence[int]]) -> Tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


@MODELS.register_module()
class CLIPImageEncoder(BaseModule):
    """CLIP's ViT image encoder with CLIP-ReID's overlapping patches and SIE (see the module docstring).

    Args:
        img_size (int | Sequence[int]): (H, W) the position embedding is made for. Defaults to (256, 128).
        patch_size (int): P, conv1's kernel. Defaults to 16.
        stride (int | Sequence[int]): S, conv1's stride (CLIP-ReID's STRIDE_SIZE; 12: overlapping patches).
            Defaults to 16.
        width (int): C. Defaults to 768 (ViT-B/16).
        layers (int): L blocks. Defaults to 12.
        heads (int): attention heads. Defaults to width // 64.
        output_dim (int): D of ``proj``. Defaults to 512.
        num_cameras (int): rows of the SIE camera embedding; 0: no SIE. Defaults to 0.
        sie_coe (float): the SIE weight (CLIP-ReID's SIE_COE). Defaults to 1.0.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
    """

    def __init__(self, img_size: Union[int, Sequence[int]] = (256, 128), patch_size: int = 16,
                 stride: Union[int, Sequence[int]] = 16, width: int = 768, layers: int = 12,
                 heads: Optional[int] = None, output_dim: int = 512, num_cameras: int = 0, sie_coe: float = 1.0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.img_size, self.stride = _pair(img_size), _pair(stride)
        if layers < 2:
            raise InputError(f'CLIPImageEncoder: layers must be >= 2 (x11 is the input of the last block), got '
                             f'{layers}')
        self.grid = self.patch_grid(self.img_size, patch_size, self.stride)
        self.num_cameras, self.sie_coe = int(num_cameras), float(sie_coe)
        scale = width ** -0.5
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=self.stride, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(1 + self.grid[0] * self.grid[1], width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = CLIPTransformer(width, layers, heads or width // 64)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))
        if self.num_cameras:
            self.cv_embed = nn.Parameter(torch.zeros(self.num_cameras, width))
            nn.init.trunc_normal_(self.cv_embed, std=0.02)  # CLIP-ReID: timm trunc_normal_(std=.02), cut at +-2
        self._camera_ids: Optional[Tensor] = None
        self.register_load_state_dict_pre_hook(self._resize_loaded_positions)

    @staticmethod
    def patch_grid(size: Tuple[int, int], patch_size: int, stride: Tuple[int, int]) -> Tuple[int, int]:
        """(h, w) = ((H - P) // S + 1, (W - P) // S + 1), the patches of an (H, W) image."""
        grid = tuple((length - patch_size) // step + 1 for length, step in zip(size, stride))
        if min(grid) < 1:
            raise InputError(f'CLIPImageEncoder: an image of {size} is smaller than a {patch_size}-pixel patch')
        return grid

    def _resize_loaded_positions(self, module, state_dict, prefix, *args) -> None:
        """A loaded ``positional_embedding`` of another square grid (CLIP's 1 + 14 x 14) to this encoder's grid."""
        key = prefix + 'positional_embedding'
        loaded = state_dict.get(key)
        if loaded is None or loaded.shape == self.positional_embedding.shape or loaded.dim() != 2:
            return
        side = math.isqrt(loaded.shape[0] - 1)
        if side * side != loaded.shape[0] - 1:
            return  # not a square grid: load_state_dict reports the size mismatch
        state_dict[key] = torch.cat([loaded[:1], resize_position_grid(loaded[1:], (side, side), self.grid)])

    @contextlib.contextmanager
    def cameras(self, camera_ids: Optional[Tensor]) -> Iterator[None]:
        """Within the block every forward without ``camera_ids`` of its own uses these (B,) ids for SIE."""
        previous, self._camera_ids = self._camera_ids, camera_ids
        try:
            yield
        finally:
            self._camera_ids = previous

    def forward(self, x: Tensor, camera_ids: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """(B, 3, H, W) images, (B,) camera ids (default: those of `cameras`; None: no SIE) -> (x11, x12, xproj)."""
        x = self.conv1(x)
        grid = tuple(x.shape[2:])
        x = x.flatten(2).transpose(1, 2)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        camera_ids = self._camera_ids if camera_ids is None else camera_ids
        if self.num_cameras and camera_ids is not None:
            cls = cls + self.sie_coe * self.cv_embed[camera_ids].to(x.dtype)[:, None]
        positions = self.positional_embedding
        positions = torch.cat([positions[:1], resize_position_grid(positions[1:], self.grid, grid)])
        x = self.ln_pre(torch.cat([cls, x], dim=1) + positions.to(x.dtype))
        x11 = self.transformer(x.transpose(0, 1), blocks=slice(0, -1))
        x12 = self.transformer(x11, blocks=slice(-1, None))
        x11, x12 = x11.transpose(0, 1), self.ln_post(x12.transpose(0, 1))
        return x11, x12, x12 @ self.proj


@MODELS.register_module()
class CLIPTextEncoder(BaseModule):
    """CLIP's text transformer (see the module docstring), frozen in CLIP-ReID.

    Args:
        vocab_size (int): rows of ``token_embedding``. Defaults to 49408.
        context_length (int): rows of ``positional_embedding``. Defaults to 77.
        width (int): C. Defaults to 512.
        layers (int): blocks. Defaults to 12.
        heads (int): attention heads. Defaults to width // 64.
        output_dim (int): D of ``text_projection``. Defaults to 512.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained', checkpoint=..., prefix='text_encoder.')``.
    """

    def __init__(self, vocab_size: int = 49408, context_length: int = 77, width: int = 512, layers: int = 12,
                 heads: Optional[int] = None, output_dim: int = 512, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.context_length = context_length
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.transformer = CLIPTransformer(width, layers, heads or width // 64)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, output_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """CLIP's ``initialize_parameters`` for the text half (the pretrained weights replace it)."""
        width, layers = self.transformer.width, self.transformer.layers
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=width ** -0.5)
            nn.init.normal_(block.attn.out_proj.weight, std=width ** -0.5 * (2 * layers) ** -0.5)
            nn.init.normal_(block.mlp.c_fc.weight, std=(2 * width) ** -0.5)
            nn.init.normal_(block.mlp.c_proj.weight, std=width ** -0.5 * (2 * layers) ** -0.5)
        nn.init.normal_(self.text_projection, std=width ** -0.5)

    def forward(self, embeddings: Tensor, eot_index: Union[int, Tensor, None] = None) -> Tensor:
        """(B, L, C) token embeddings, each one's EOT position (an int for all, (B,), or None: the last) -> (B, D)."""
        batch, length = embeddings.shape[:2]
        if eot_index is None:
            eot_index = length - 1
        eot = torch.as_tensor(eot_index, device=embeddings.device).expand(batch)
        length = int(eot.max()) + 1  # later tokens never reach an EOT (causal mask)
        if length > self.context_length:
            raise InputError(f'CLIPTextEncoder: {length} tokens, more than the context of {self.context_length}')
        x = embeddings[:, :length] + self.positional_embedding[:length].to(embeddings.dtype)
        x = self.transformer(x.transpose(0, 1), causal_mask(length, x.dtype, x.device)).transpose(0, 1)
        x = self.ln_final(x)
        return x[torch.arange(batch, device=x.device), eot] @ self.text_projection

    def encode(self, token_ids: Tensor) -> Tensor:
        """(B, L) token ids (EOT: the largest id of each row, as CLIP's ``encode_text``) -> (B, D)."""
        return self(self.token_embedding(token_ids), token_ids.argmax(dim=-1))
