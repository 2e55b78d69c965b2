"""timm's Vision Transformer keys in mmpretrain's names, for the converters of timm-layout ViT checkpoints
(tools/model_converters/timm_vit_to_mmpretrain.py, luperson_vit_to_mmpretrain.py).

timm's ``VisionTransformer`` (class token, pre-norm blocks, qkv bias, final ``norm``) and mmpretrain's
``VisionTransformer`` (``out_type='cls_token'``, ``final_norm=True``) hold the same tensors under other names:
``patch_embed.proj`` is ``patch_embed.projection``, block ``i``'s ``norm1``/``norm2``/``attn``/``mlp.fc1``/
``mlp.fc2`` are layer ``i``'s ``ln1``/``ln2``/``attn``/``ffn.layers.0.0``/``ffn.layers.1``, and the final ``norm``
is ``ln1``; ``cls_token`` and ``pos_embed`` (class position included) keep theirs.
"""
from typing import List, Mapping

from .checkpoint import rename_keys
from .errors import InputError

__all__ = ['TIMM_VIT_RENAMES', 'mmpretrain_vit_keys', 'rename_timm_vit']

#: timm ViT key pattern -> mmpretrain VisionTransformer key
TIMM_VIT_RENAMES = [
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^blocks\.(\d+)\.norm1\.', r'layers.\1.ln1.'),
    (r'^blocks\.(\d+)\.norm2\.', r'layers.\1.ln2.'),
    (r'^blocks\.(\d+)\.attn\.', r'layers.\1.attn.'),
    (r'^blocks\.(\d+)\.mlp\.fc1\.', r'layers.\1.ffn.layers.0.0.'),
    (r'^blocks\.(\d+)\.mlp\.fc2\.', r'layers.\1.ffn.layers.1.'),
    (r'^norm\.', 'ln1.'),
    (r'^(cls_token|pos_embed)$', r'\1'),
]


def rename_timm_vit(state_dict: Mapping, source: str) -> dict:
    """The mmpretrain VisionTransformer state_dict of timm ViT backbone tensors (no classifier).

    Raises:
        InputError: on a key no timm ViT backbone has, or without ``pos_embed`` or the patch embedding
            ('not a <source>').
    """
    converted = rename_keys(state_dict, TIMM_VIT_RENAMES, source)
    if 'pos_embed' not in converted or 'patch_embed.projection.weight' not in converted:
        raise InputError(f'no pos_embed/patch_embed in the checkpoint: not a {source}')
    return converted


def mmpretrain_vit_keys(num_layers: int) -> List[str]:
    """The state_dict keys of mmpretrain's VisionTransformer with a class token, qkv bias and the final norm."""
    keys = ['cls_token', 'pos_embed', 'patch_embed.projection.weight', 'patch_embed.projection.bias']
    for i in range(num_layers):
        keys += [f'layers.{i}.{name}.{kind}' for name in ('ln1', 'attn.qkv', 'attn.proj', 'ln2', 'ffn.layers.0.0',
                                                          'ffn.layers.1') for kind in ('weight', 'bias')]
    return keys + ['ln1.weight', 'ln1.bias']
