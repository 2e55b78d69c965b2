"""``mmdenoiserep.TransReIDViT``: the ViT of TransReID and TransReID-SSL on mmpretrain's VisionTransformer.

TransReID (He et al., "TransReID: Transformer-based Object Re-Identification", ICCV 2021; damo-cv/TransReID
``model/backbones/vit_pytorch.py`` class ``TransReID``, ``model/make_model.py`` ``build_transformer_local``) and
TransReID-SSL (damo-cv/TransReID-SSL, RG12138/DenoiseRep ``Person-ReID/TransReID-SSL``, the same files) add to
the ViT, each an option here (off by default: then this is mmpretrain's VisionTransformer):

- ``stem_conv``: TransReID-SSL's IBN convolution stem before the patch projection (`ICSPatchEmbed`).
- ``stride_size``: overlapping patches, the projection conv (kernel P) at stride S < P without padding
  (``PatchEmbed_overlap``): a grid of ((H - P) // S + 1) x ((W - P) // S + 1) tokens.
- SIE, side information embedding (``num_cameras``, ``num_views``, ``sie_coefficient``): a learned (1, C)
  embedding per camera (and/or view), ``sie_embed`` (cameras x views, 1, C), added to every token with the
  position embedding: ``z0 = [cls; tokens] + pos_embed + lambda * sie_embed[camera * views + view]``.
- JPM, the jigsaw patch module (``jpm``): the tokens after blocks 1 .. L-1 go (a) through block L and the final
  norm (the global branch: its class token is the global feature) and (b), shifted and shuffled, in K groups
  each headed by the class token, through a copy of block L and of the final norm (``jpm_layer``,
  ``jpm_norm``; the local branch: each group's class token is a local feature). The output is
  (B, 1 + K, C): the global feature then the K local ones.

JPM, point by point: ``shuffle_unit(features, shift_num, shuffle_groups)`` of make_model.py takes the patch
tokens p_1 .. p_N (the class token left out) as p_s .. p_N, p_1 .. p_{s-1} (its "shift" by s = ``shift_num``
concatenates ``features[:, s:]`` and ``features[:, 1:s]``: a roll by s - 1 patches), appends the next-to-last
token once when N is not a multiple of g = ``shuffle_groups``, views the sequence as (g, N / g) and reads it
column by column (``transpose(1, 2)``); group k of K = ``divide_length`` is then tokens [k L, (k + 1) L),
L = N // K (``patch_length``); ``rearrange=False`` skips the shift and the shuffle. TransReID's global branch
is ``b1``, a copy of block L and of the norm taken when the model is built, while its ``base.blocks[-1]`` and
``base.norm`` are never used again; here block L and the norm themselves are the global branch (the same
function from the same initial values, without the unused copy), and ``jpm_layer``/``jpm_norm`` (TransReID's
``b2``) are set from them in ``init_weights``, after the pretrained weights are loaded, as TransReID copies
after ``load_param``. The K groups go through the local branch as one batch of K B sequences (TransReID calls
``b2`` K times; the same per-sequence computation).

Camera and view ids: ``forward(x, camera_ids, view_ids)``, or set for the duration of a model's forward by
``with backbone.side_information(camera_ids, view_ids):`` (what `mmdenoiserep.ReIDClassifier` does, so that
every call of the backbone in that forward gets them, e.g. the backbone-only denoise phase of DenoiseRep).
Without ids (a shape-only call, such as DenoiseRepBackbone's example forward) no SIE term is added.

Pretrained position embeddings on another grid are resized on load as TransReID's ``resize_pos_embed``:
bilinear (``interpolate_mode='bilinear'``, mmpretrain's ``resize_pos_embed``) from a source grid of h x w
tokens with h = int(sqrt(n r)), w = h // r, r = ``pretrain_hw_ratio`` (TransReID-SSL's PRETRAIN_HW_RATIO; 1:
TransReID's square grid).
"""
import contextlib
import copy
import math
from typing import Optional, Tuple

import torch
from mmengine.logging import print_log
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models import VisionTransformer
from mmpretrain.models.utils import resize_pos_embed
from torch import nn

from ..registry import MODELS
from ..utils import InputError
from .ics_stem import ICSPatchEmbed

__all__ = ['TransReIDViT', 'jpm_shift_shuffle', 'jpm_local_groups', 'JPM_DEFAULTS']

#: TransReID's JPM settings (config/defaults.py: SHIFT_NUM, SHUFFLE_GROUP, DEVIDE_LENGTH, RE_ARRANGE)
JPM_DEFAULTS = dict(shift_num=5, shuffle_groups=2, divide_length=4, rearrange=True)


def jpm_shift_shuffle(patches: torch.Tensor, shift_num: int, shuffle_groups: int) -> torch.Tensor:
    """TransReID's ``shuffle_unit`` on the patch tokens (B, N, C) (the class token left out): (B, N', C).

    Shift: p_s .. p_N, p_1 .. p_{s-1} (s = ``shift_num``). Shuffle: the next-to-last token appended once when
    N % g != 0 (N' = N + 1), then the (g, N' / g) view read column by column (g = ``shuffle_groups``).
    """
    patches = torch.cat([patches[:, shift_num - 1:], patches[:, :shift_num - 1]], dim=1)
    if patches.shape[1] % shuffle_groups:
        patches = torch.cat([patches, patches[:, -2:-1]], dim=1)
    batch, length, channels = patches.shape
    if length % shuffle_groups:
        raise InputError(f'JPM: {length - 1} patch tokens: neither N nor N + 1 is a multiple of shuffle_groups '
                         f'{shuffle_groups} (TransReID shuffles only such grids)')
    grouped = patches.reshape(batch, shuffle_groups, length // shuffle_groups, channels)
    return grouped.transpose(1, 2).reshape(batch, length, channels)


def jpm_local_groups(tokens: torch.Tensor, shift_num: int, shuffle_groups: int, divide_length: int,
                     rearrange: bool) -> torch.Tensor:
    """The K = ``divide_length`` local sequences of JPM from tokens (B, 1 + N, C): (K, B, 1 + L, C).

    Sequence k is [class token; t_{kL} .. t_{(k+1)L - 1}], L = N // K, t the patch tokens after
    `jpm_shift_shuffle` (``rearrange``) or as they are.
    """
    cls_token, patches = tokens[:, :1], tokens[:, 1:]
    length = patches.shape[1] // divide_length
    if length < 1:
        raise InputError(f'JPM: {patches.shape[1]} patch tokens cannot make {divide_length} groups')
    if rearrange:
        patches = jpm_shift_shuffle(patches, shift_num, shuffle_groups)
    return torch.stack([torch.cat([cls_token, patches[:, k * length:(k + 1) * length]], dim=1)
                        for k in range(divide_length)])


@MODELS.register_module()
class TransReIDViT(VisionTransformer):
    """mmpretrain's VisionTransformer with TransReID's options (see the module docstring); same state_dict keys,
    plus ``patch_embed.stem.*`` (ICS), ``sie_embed`` (SIE) and ``jpm_layer.*``, ``jpm_norm.*`` (JPM).

    Args:
        stem_conv (bool): TransReID-SSL's ICS stem (STEM_CONV) before a (P/2)x(P/2) projection. Defaults to False.
        stride_size (int, optional): the patch projection's stride (STRIDE_SIZE); None: the patch size.
            Patches are never padded (TransReID's projection conv). Not with ``stem_conv`` (TransReID-SSL's
            stem always projects non-overlapping patches). Defaults to None.
        num_cameras (int): cameras of the SIE (TransReID: the dataset's camera count when SIE_CAMERA);
            0: none. Defaults to 0.
        num_views (int): views of the SIE (SIE_VIEW); 0: none. Defaults to 0.
        sie_coefficient (float): lambda of the SIE term (SIE_COE). Defaults to 3.0 (TransReID's default).
        jpm (dict, optional): JPM settings, keys of ``JPM_DEFAULTS`` (TransReID's SHIFT_NUM 5, SHUFFLE_GROUP 2,
            DEVIDE_LENGTH 4, RE_ARRANGE True, the defaults of missing keys); None: no JPM. Needs
            ``out_type='cls_token'``, ``final_norm=True`` and the last layer as the only output.
            Defaults to None.
        pretrain_hw_ratio (int): height / width of a loaded checkpoint's position-embedding grid, used when it
            differs from this model's (PRETRAIN_HW_RATIO). Defaults to 1.
        arch, img_size, patch_size, in_channels, patch_cfg, **kwargs: mmpretrain's VisionTransformer arguments
            (``patch_cfg`` updates the patch projection's stride and padding 0 set here).

    ``forward(x, camera_ids=None, view_ids=None)``: (B, 3, H, W), (B,) int ids -> a tuple of outputs as
    mmpretrain's (``cls_token``: (B, C)), or with JPM ((B, 1 + K, C),): the global then the K local features.
    """

    def __init__(self, arch='base', img_size=224, patch_size: int = 16, in_channels: int = 3, *,
                 stem_conv: bool = False, stride_size: Optional[int] = None, num_cameras: int = 0, num_views: int = 0,
                 sie_coefficient: float = 3.0, jpm: Optional[dict] = None, pretrain_hw_ratio: int = 1,
                 patch_cfg: Optional[dict] = None, **kwargs):
        if stem_conv and stride_size not in (None, patch_size):
            raise InputError(f'TransReIDViT: stride_size {stride_size} with stem_conv: the ICS stem projects '
                             f'non-overlapping patches (stride_size None or {patch_size})')
        if num_cameras < 0 or num_views < 0 or pretrain_hw_ratio < 1:
            raise InputError(f'TransReIDViT: num_cameras {num_cameras} and num_views {num_views} must be >= 0, '
                             f'pretrain_hw_ratio {pretrain_hw_ratio} >= 1')
        patch_cfg = dict(dict(stride=stride_size or patch_size, padding=0), **(patch_cfg or {}))
        super().__init__(arch, img_size, patch_size, in_channels, patch_cfg=patch_cfg, **kwargs)
        if stem_conv:
            self.patch_embed = ICSPatchEmbed(in_channels, self.embed_dims, patch_size, self.img_size)
            self.patch_resolution = self.patch_embed.init_out_size
            num_tokens = self.patch_resolution[0] * self.patch_resolution[1] + self.num_extra_tokens
            if num_tokens != self.pos_embed.shape[1]:
                self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, self.embed_dims))
        self.pretrain_hw_ratio = pretrain_hw_ratio

        self.num_cameras, self.num_views, self.sie_coefficient = num_cameras, num_views, sie_coefficient
        self.sie_embed = None
        if num_cameras or num_views:
            self.sie_embed = nn.Parameter(torch.zeros(max(num_cameras, 1) * max(num_views, 1), 1, self.embed_dims))
            trunc_normal_(self.sie_embed, std=0.02)
        self._side_information: Tuple[Optional[torch.Tensor], Optional[torch.Tensor]] = (None, None)

        self.jpm = None
        if jpm is not None:
            unknown = set(jpm) - set(JPM_DEFAULTS)
            if unknown:
                raise InputError(f'TransReIDViT: unknown jpm keys {sorted(unknown)}; known: {sorted(JPM_DEFAULTS)}')
            if self.out_type != 'cls_token' or not self.final_norm or self.out_indices != [self.num_layers - 1]:
                raise InputError("TransReIDViT: jpm needs out_type='cls_token', final_norm=True and out_indices=-1")
            self.jpm = dict(JPM_DEFAULTS, **jpm)
            num_patches = self.patch_resolution[0] * self.patch_resolution[1]
            if num_patches // self.jpm['divide_length'] < 1 or (
                    self.jpm['rearrange'] and num_patches % self.jpm['shuffle_groups']
                    and (num_patches + 1) % self.jpm['shuffle_groups']):
                raise InputError(f'TransReIDViT: a {self.patch_resolution} patch grid does not fit jpm={self.jpm}')
            self.jpm_layer = copy.deepcopy(self.layers[-1])
            self.jpm_norm = copy.deepcopy(self.ln1)

    def init_weights(self):
        """mmpretrain's (a Pretrained init_cfg loads the checkpoint), then the JPM local branch set to the last
        layer and the final norm, as TransReID copies them after ``load_param``."""
        super().init_weights()
        if self.jpm is not None:
            with torch.no_grad():
                for source, target in ((self.layers[-1], self.jpm_layer), (self.ln1, self.jpm_norm)):
                    values = dict(source.named_parameters())
                    values.update(source.named_buffers())
                    for name, tensor in list(target.named_parameters()) + list(target.named_buffers()):
                        if 'denoiser' not in name:  # a DenoiseRep form keeps its own denoisers and steps
                            tensor.copy_(values[name])

    def _prepare_pos_embed(self, state_dict, prefix, *args, **kwargs):
        """Resize a checkpoint's pos_embed from its h x w grid, h = int(sqrt(n r)), w = h // r (r =
        ``pretrain_hw_ratio``), to this model's patch grid: TransReID(-SSL)'s ``resize_pos_embed``."""
        name = prefix + 'pos_embed'
        if name not in state_dict or state_dict[name].shape == self.pos_embed.shape or not self.with_cls_token:
            return super()._prepare_pos_embed(state_dict, prefix, *args, **kwargs)
        source = state_dict[name]
        num_tokens = source.shape[1] - self.num_extra_tokens
        height = int(math.sqrt(num_tokens * self.pretrain_hw_ratio))
        width = height // self.pretrain_hw_ratio
        if height * width != num_tokens:
            raise InputError(f'TransReIDViT: a checkpoint pos_embed of {num_tokens} patches is no h x w grid with '
                             f'h = {self.pretrain_hw_ratio} w (pretrain_hw_ratio)')
        print_log(f'TransReIDViT: pos_embed resized from the {height} x {width} grid to {self.patch_resolution} '
                  f'({self.interpolate_mode})', logger='current')
        state_dict[name] = resize_pos_embed(source, (height, width), self.patch_resolution, self.interpolate_mode,
                                            self.num_extra_tokens)

    @contextlib.contextmanager
    def side_information(self, camera_ids: Optional[torch.Tensor] = None, view_ids: Optional[torch.Tensor] = None):
        """Within the block, forward calls without ids use these (B,) camera and view ids."""
        previous, self._side_information = self._side_information, (camera_ids, view_ids)
        try:
            yield self
        finally:
            self._side_information = previous

    def sie_term(self, camera_ids: Optional[torch.Tensor], view_ids: Optional[torch.Tensor]):
        """lambda * sie_embed[camera * max(views, 1) + view] (B, 1, C); None without SIE or without ids."""
        if self.sie_embed is None or (camera_ids is None and view_ids is None):
            return None
        if (self.num_cameras and camera_ids is None) or (self.num_views and view_ids is None):
            raise InputError(f'TransReIDViT: the SIE needs camera ids ({self.num_cameras} cameras) and view ids '
                             f'({self.num_views} views); got {"no camera" if camera_ids is None else "no view"} ids')
        if self.num_cameras and self.num_views:
            index = camera_ids * self.num_views + view_ids
        else:
            index = camera_ids if self.num_cameras else view_ids
        return self.sie_coefficient * self.sie_embed[index.long()]

    def forward(self, x: torch.Tensor, camera_ids: Optional[torch.Tensor] = None,
                view_ids: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, ...]:
        if camera_ids is None and view_ids is None:
            camera_ids, view_ids = self._side_information
        batch = x.shape[0]
        x, patch_resolution = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(batch, -1, -1), x), dim=1)
        x = x + resize_pos_embed(self.pos_embed, self.patch_resolution, patch_resolution,
                                 mode=self.interpolate_mode, num_extra_tokens=self.num_extra_tokens)
        sie = self.sie_term(camera_ids, view_ids)
        if sie is not None:
            x = x + sie
        x = self.pre_norm(self.drop_after_pos(x))
        if self.jpm is not None:
            return (self._jpm_features(x),)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, patch_resolution))
        return tuple(outs)

    def _jpm_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1 + N, C) tokens before block 1 -> (B, 1 + K, C): the global feature, then the K local ones."""
        for layer in self.layers[:-1]:
            x = layer(x)
        global_feature = self.ln1(self.layers[-1](x))[:, 0]
        groups = jpm_local_groups(x, **self.jpm)  # (K, B, 1 + L, C)
        num_groups, batch = groups.shape[:2]
        local = self.jpm_norm(self.jpm_layer(groups.flatten(0, 1)))[:, 0]
        return torch.cat([global_feature[:, None], local.reshape(num_groups, batch, -1).transpose(0, 1)], dim=1)
