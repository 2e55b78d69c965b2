"""Convert a LUPerson self-supervised ViT checkpoint (TransReID-SSL) into mmpretrain's VisionTransformer keys.

    python tools/model_converters/luperson_vit_to_mmpretrain.py SRC DST [--img-size 256 128] [--hw-ratio 2]

SRC is one of the checkpoints the TransReID-SSL authors start their re-id training from (github.com/damo-cv/
TransReID-SSL, "Pre-trained models": ViT-S/16 vit_small_cfs_lup.pth, ViT-B/16+ICS vit_base_ics_cfs_lup.pth):
a DINO checkpoint (the ``teacher`` network, keys ``backbone.*``, DDP's ``module.`` prefix accepted) or a bare
timm ViT state_dict. DST holds ``state_dict`` with the keys of mmpretrain's ``VisionTransformer`` (ViT-S), or of
``mmdenoiserep.TransReIDViT`` with ``stem_conv=True`` (+ICS: the convolution stem ``patch_embed.conv.N``, its IBN
halves ``IN``/``BN``, of TransReID-SSL's ``ours_vit.py``, become ``patch_embed.stem.N``, ``instance_norm``/
``batch_norm``; the stem's BatchNorm running statistics are kept), for the re-id configs'
``init_cfg=dict(type='Pretrained', checkpoint=DST)``. The position embedding is resized to the patch grid
of ``--img-size`` (H W) as TransReID-SSL's ``load_param`` does: the pre-training grid has H = hw_ratio x W.
The DINO projection head, the classifiers (``head``, ``fc``) and distillation tokens are dropped. DST also
holds ``meta`` (SRC, the image size, the patch grid, whether it has the ICS stem); written atomically. Bad
input (a missing or unreadable file, a key of another model, an incomplete stem, a NaN or Inf) is a one-line
error and no file.
"""
import argparse
import math
import os.path as osp

import torch
import torch.nn.functional as F

from mmdenoiserep.models.ics_stem import ics_stem
from mmdenoiserep.utils import InputError, convert_checkpoint_file, rename_keys, rename_timm_vit

DROPPED = ('head', 'fc', 'dist_token', 'pre_logits', 'fc_norm')
#: TransReID-SSL's ICS stem (``PatchEmbed_VOLO.conv``, an nn.Sequential) -> TransReIDViT's ``patch_embed.stem``
STEM_RENAMES = [
    (r'^patch_embed\.conv\.(\d+)\.IN\.', r'patch_embed.stem.\1.instance_norm.'),
    (r'^patch_embed\.conv\.(\d+)\.BN\.', r'patch_embed.stem.\1.batch_norm.'),
    (r'^patch_embed\.conv\.(\d+)\.', r'patch_embed.stem.\1.'),
]
SOURCE = 'timm/DINO ViT checkpoint'


def timm_state_dict(checkpoint: dict) -> dict:
    """The ViT weights of a DINO checkpoint (``teacher``, ``backbone.*``), or the checkpoint's own state_dict."""
    for key in ('teacher', 'model', 'state_dict'):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    state = {}
    for key, value in checkpoint.items():
        key = key[len('module.'):] if key.startswith('module.') else key
        if key.startswith('backbone.'):
            key = key[len('backbone.'):]
        elif any(k.startswith('backbone.') for k in checkpoint):
            continue  # a DINO network: its projection head is not part of the ViT
        state[key] = value
    return state


def resize_pos_embed(pos_embed: torch.Tensor, grid: tuple, hw_ratio: int) -> torch.Tensor:
    """(1, 1 + h*w, C) -> (1, 1 + H*W, C) for grid (H, W), the source grid having h = hw_ratio * w (bilinear,
    as TransReID-SSL's ``resize_pos_embed``)."""
    cls_token, tokens = pos_embed[:, :1], pos_embed[:, 1:]
    old_h = int(math.sqrt(tokens.shape[1] * hw_ratio))
    old_w = old_h // hw_ratio
    if old_h * old_w != tokens.shape[1]:
        raise InputError(f'pos_embed with {tokens.shape[1]} patches is no h x w grid with h = {hw_ratio} w '
                         '(--hw-ratio)')
    tokens = tokens.reshape(1, old_h, old_w, -1).permute(0, 3, 1, 2)
    tokens = F.interpolate(tokens, size=grid, mode='bilinear').permute(0, 2, 3, 1).reshape(1, -1, cls_token.shape[2])
    return torch.cat([cls_token, tokens], dim=1)


def stem_keys() -> list:
    """The ICS stem's keys in TransReIDViT (``patch_embed.stem.*``)."""
    return [f'patch_embed.stem.{key}' for key in ics_stem().state_dict()]


def convert(checkpoint: dict, grid: tuple, hw_ratio: int = 2) -> dict:
    """mmpretrain VisionTransformer (or TransReIDViT with the ICS stem) state_dict of a LUPerson/timm ViT
    checkpoint, pos_embed on ``grid``."""
    kept = {key: value for key, value in timm_state_dict(checkpoint).items() if key.split('.')[0] not in DROPPED}
    stem = {key: value for key, value in kept.items() if key.startswith('patch_embed.conv.')}
    converted = rename_timm_vit({key: value for key, value in kept.items() if key not in stem}, SOURCE)
    if stem:
        converted.update(rename_keys(stem, STEM_RENAMES, SOURCE))
        missing = [key for key in stem_keys() if key not in converted]
        if missing:
            raise InputError(f'{len(missing)} ICS stem keys missing ({", ".join(missing[:3])}; TransReIDViT '
                             f'names): not a complete {SOURCE} with the ICS stem')
    if converted['pos_embed'].shape[1] != 1 + grid[0] * grid[1]:
        converted['pos_embed'] = resize_pos_embed(converted['pos_embed'], grid, hw_ratio)
    return converted


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('src', help='LUPerson ViT checkpoint (DINO or timm)')
    parser.add_argument('dst', help='path of the mmpretrain checkpoint to write')
    parser.add_argument('--img-size', type=int, nargs=2, default=(256, 128), metavar=('H', 'W'))
    parser.add_argument('--patch-size', type=int, default=16)
    parser.add_argument('--hw-ratio', type=int, default=2, help='H / W of the pre-training patch grid')
    args = parser.parse_args()
    grid = (args.img_size[0] // args.patch_size, args.img_size[1] // args.patch_size)

    def convert_checkpoint(checkpoint):
        state_dict = convert(checkpoint, grid, args.hw_ratio)
        stem_conv = any(key.startswith('patch_embed.stem.') for key in state_dict)
        return state_dict, dict(img_size=tuple(args.img_size), grid=grid, stem_conv=stem_conv)

    # DINO checkpoints also hold its argparse.Namespace: allowed for this load only
    state_dict, meta = convert_checkpoint_file(args.src, args.dst, convert_checkpoint, osp.basename(__file__),
                                               safe_globals=[argparse.Namespace])
    print(f'{len(state_dict)} tensors, pos_embed {tuple(state_dict["pos_embed"].shape)}'
          f'{", ICS stem (TransReIDViT stem_conv=True)" if meta["stem_conv"] else ""}; wrote {args.dst}')


if __name__ == '__main__':
    main()
