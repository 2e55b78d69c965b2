"""Convert a timm ViT classifier state_dict into an mmpretrain ImageClassifier checkpoint (VisionTransformer +
VisionTransformerClsHead).

    python tools/model_converters/timm_vit_to_mmpretrain.py SRC DST

SRC is the ``pytorch_model.bin`` of a timm ViT on the Hugging Face hub (https://huggingface.co/timm/<model>), a
bare state_dict in timm's names, e.g. the AugReg ViT-B/16 224px of configs/vit_b_in1k.py:
    wget https://huggingface.co/timm/vit_base_patch16_224.augreg_in21k_ft_in1k/resolve/main/pytorch_model.bin
    python tools/model_converters/timm_vit_to_mmpretrain.py pytorch_model.bin \
        pretrain/vit_base_p16_augreg_in21k_ft_in1k_224.pth
An mmengine-style ``{'state_dict': ...}`` wrapper and DDP's ``module.`` prefix are accepted too. The same repos'
``model.safetensors`` is refused (the safetensors package is not a dependency here): take ``pytorch_model.bin``.
timm's ViT with a class token, qkv bias, the final ``norm`` and a Linear ``head`` (global_pool 'token', no
``fc_norm``, ``pre_logits``, distillation or register tokens: other keys are refused) is mmpretrain's
``VisionTransformer`` (final_norm, out_type 'cls_token') + ``VisionTransformerClsHead`` (no hidden layer) with
the same tensors: the backbone is renamed by the key map of `mmdenoiserep.utils.timm_vit` to ``backbone.*``, the
classifier ``head`` becomes ``head.layers.head``; nothing is reshaped. DST holds exactly the keys of that model's
state_dict, as ``{'meta': ..., 'state_dict': ...}`` like mmengine checkpoints, for a config's ``load_from`` (or
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone')``); written atomically. Bad input (a missing,
unreadable or safetensors file, a key of another model, a missing key, a NaN or Inf) is a one-line error and no
file.
"""
import argparse
import os.path as osp
import re
import sys

from mmdenoiserep.utils import (InputError, checkpoint_state_dict, convert_checkpoint_file, mmpretrain_vit_keys,
                                rename_keys, rename_timm_vit, strip_ddp_prefix)

SOURCE = 'timm ViT classifier state_dict'
#: timm's classifier -> mmpretrain's VisionTransformerClsHead (hidden_dim=None)
HEAD_RENAMES = [(r'^head\.(weight|bias)$', r'head.layers.head.\1')]
HEAD_KEYS = ['head.layers.head.weight', 'head.layers.head.bias']


def convert(state_dict: dict) -> dict:
    """The mmpretrain ImageClassifier state_dict of a timm ViT classifier state_dict.

    Raises:
        InputError: on a key that timm's class-token ViT classifier does not have, or a key it has but the
            state_dict lacks (for the number of blocks found).
    """
    state_dict = strip_ddp_prefix(state_dict)
    head = {key: value for key, value in state_dict.items() if key.startswith('head.')}
    backbone = {key: value for key, value in state_dict.items() if key not in head}
    converted = {f'backbone.{key}': value for key, value in rename_timm_vit(backbone, SOURCE).items()}
    converted.update(rename_keys(head, HEAD_RENAMES, SOURCE))
    num_layers = 1 + max((int(m.group(1)) for m in map(re.compile(r'^backbone\.layers\.(\d+)\.').match, converted)
                          if m), default=-1)
    expected = [f'backbone.{key}' for key in mmpretrain_vit_keys(num_layers)] + HEAD_KEYS
    missing = [key for key in expected if key not in converted]
    if missing:
        raise InputError(f'{len(missing)} keys missing after conversion ({", ".join(missing[:3])}'
                         f'{", ..." if len(missing) > 3 else ""}; mmpretrain names): not a complete {SOURCE} of '
                         f'{num_layers} blocks')
    return converted


def is_safetensors(path: str) -> bool:
    """A ``.safetensors`` name, or the format's start: an 8-byte header length, then the JSON header's '{'."""
    try:
        with open(path, 'rb') as f:
            start = f.read(9)
    except OSError:  # unreadable: torch.load says why
        return path.endswith('.safetensors')
    return path.endswith('.safetensors') or (len(start) == 9 and start[8:9] == b'{' and not start.startswith(b'PK'))


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('src', help="timm ViT state_dict (the Hugging Face repo's pytorch_model.bin)")
    parser.add_argument('dst', help='path of the mmpretrain checkpoint to write')
    args = parser.parse_args()
    tool = osp.basename(__file__)
    if osp.isfile(args.src) and is_safetensors(args.src):  # refused before torch.load, which says only 'cannot read'
        sys.exit(f'{tool}: error: {args.src} is a safetensors file, which needs the safetensors package (not '
                 "installed here): download the same Hugging Face repo's pytorch_model.bin instead")

    def convert_checkpoint(checkpoint):
        state_dict = convert(dict(checkpoint_state_dict(checkpoint, args.src)))
        num_classes, channels = state_dict['head.layers.head.weight'].shape
        return state_dict, dict(num_classes=int(num_classes), embed_dims=int(channels),
                                num_layers=sum(key.endswith('.ln2.weight') for key in state_dict),
                                num_patches=int(state_dict['backbone.pos_embed'].shape[1]) - 1)

    state_dict, meta = convert_checkpoint_file(args.src, args.dst, convert_checkpoint, tool)
    print(f'{len(state_dict)} tensors ({meta["num_layers"]} blocks, {meta["embed_dims"]} channels, '
          f'{meta["num_patches"]} patches + class token, {meta["num_classes"]} classes); wrote {args.dst}')


if __name__ == '__main__':
    main()
