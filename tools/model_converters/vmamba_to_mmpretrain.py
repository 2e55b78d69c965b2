"""Convert an official VMamba checkpoint into an mmpretrain ImageClassifier checkpoint (mmdenoiserep.VMamba).

    python tools/model_converters/vmamba_to_mmpretrain.py SRC DST [--arch {tiny,small,base}] [--ema]

SRC is a checkpoint of MzeroMiko/VMamba's classification code, VMamba-T/S/B (``vssm1_tiny_0230s``,
``vssm1_small_0229``, ``vssm1_base_0229``, see `mmdenoiserep.models.vmamba`): the training checkpoint
(``model``, and ``model_ema`` for the EMA weights with ``--ema``; its ``config`` entry needs no yacs) or a bare
state_dict. DST holds ``state_dict`` with the keys of ``ImageClassifier(backbone=mmdenoiserep.VMamba,
neck=GlobalAveragePooling, head=LinearClsHead)``: ``backbone.*`` (the classifier's ``norm`` is the last stage's
output norm ``backbone.norm3``) and ``head.fc.*``. The 1 x 1 "Linear2d" weights (O, I) become (O, I, 1, 1), the
stacked ``x_proj_weight`` (K, R + 2N, D) and ``dt_projs_weight`` (K, D, R) become the (K C_out, C_in) weights of
``op.x_proj.linear``/``op.dt_projs.linear``. ``--arch`` (default: the arch whose shapes SRC has) is checked
against every shape. Bad input (an unreadable file, a checkpoint of another model or variant, missing or
unknown keys, NaN or Inf) is a one-line error and no file; DST is written atomically.
"""
import argparse
import os.path as osp
import re
from collections import OrderedDict

import torch

from mmdenoiserep.models.vmamba import VMamba
from mmdenoiserep.utils import InputError, convert_checkpoint_file, rename_keys, strip_ddp_prefix

ARCHS = ('tiny', 'small', 'base')
BLOCK = r'^(layers\.\d+\.blocks\.\d+)\.'
#: official VMamba key pattern -> mmpretrain ImageClassifier key ({last}: the last stage's index)
RENAMES = [
    (r'^patch_embed\.0\.', 'backbone.patch_embed.conv1.'),
    (r'^patch_embed\.2\.', 'backbone.patch_embed.norm1.'),
    (r'^patch_embed\.5\.', 'backbone.patch_embed.conv2.'),
    (r'^patch_embed\.7\.', 'backbone.patch_embed.norm2.'),
    (BLOCK + r'op\.x_proj_weight$', r'backbone.\1.op.x_proj.linear.weight'),
    (BLOCK + r'op\.dt_projs_weight$', r'backbone.\1.op.dt_projs.linear.weight'),
    (BLOCK + r'(op\.(A_logs|Ds|dt_projs_bias)|(norm|norm2|op\.out_norm|mlp\.fc[12])\.(weight|bias)'
     r'|op\.(in_proj|conv2d|out_proj)\.weight)$', r'backbone.\1.\2'),
    (r'^(layers\.\d+)\.downsample\.1\.(weight|bias)$', r'backbone.\1.downsample.conv.\2'),
    (r'^(layers\.\d+)\.downsample\.3\.(weight|bias)$', r'backbone.\1.downsample.norm.\2'),
    (r'^classifier\.norm\.(weight|bias)$', r'backbone.norm{last}.\1'),
    (r'^classifier\.head\.(weight|bias)$', r'head.fc.\1'),
]
#: ours -> how the official tensor is reshaped: 1x1 convs from (O, I); the stacked weights from (K, O, I)
POINTWISE = re.compile(r'\.(op\.(in_proj|out_proj)|mlp\.fc[12])\.weight$')
STACKED = re.compile(r'\.op\.(x_proj|dt_projs)\.linear\.weight$')


class _Config:
    """Stands for yacs' CfgNode (a dict subclass), the official training checkpoints' ``config`` entry: read as
    an OrderedDict (``weights_only`` fills no other dict subclass)."""

    def __new__(cls, *args):
        return OrderedDict()


def model_state_dict(checkpoint: dict, ema: bool = False) -> dict:
    """The weights of an official checkpoint: ``model_ema`` (``ema``) or ``model``, else the bare state_dict."""
    key = 'model_ema' if ema else 'model'
    if ema and key not in checkpoint:
        raise InputError(f"--ema: no 'model_ema' in the checkpoint (keys: {', '.join(map(str, checkpoint))})")
    state = checkpoint.get(key, checkpoint)
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise InputError(f"no VMamba state_dict (a dict of tensors) under '{key}' or at the top level")
    return strip_ddp_prefix(state)


def expected_shapes(arch: str, num_classes: int) -> dict:
    """{key: shape} of the mmpretrain ImageClassifier with VMamba ``arch`` (built on the meta device)."""
    with torch.device('meta'):
        backbone = VMamba(arch)
    shapes = {f'backbone.{k}': tuple(v.shape) for k, v in backbone.state_dict().items()}
    channels = backbone.num_features[-1]
    return {**shapes, 'head.fc.weight': (num_classes, channels), 'head.fc.bias': (num_classes,)}


def infer_arch(state_dict: dict) -> str:
    """The arch whose embedding width, depths and SSM ratio the (official) checkpoint has."""
    try:
        embed = state_dict['patch_embed.5.weight'].shape[0]
        inner = state_dict['layers.0.blocks.0.op.in_proj.weight'].shape[0]
    except KeyError as error:
        raise InputError(f'no {error} in the checkpoint: not a VMamba (v05_noz, patch embed v2) checkpoint') from None
    depths = [len({k.split('.')[3] for k in state_dict if k.startswith(f'layers.{i}.blocks.')}) for i in range(4)]
    for arch in ARCHS:
        zoo = VMamba.arch_zoo[arch]
        if (zoo['embed_dims'], list(zoo['depths']), zoo['ssm_ratio']) == (embed, depths, inner / embed):
            return arch
    raise InputError(f'embed dims {embed}, depths {depths}, ssm ratio {inner / embed:g} are none of VMamba '
                     f'{", ".join(ARCHS)}')


def convert(state_dict: dict, arch: str = None) -> dict:
    """The mmpretrain ImageClassifier state_dict of an official VMamba state_dict, checked against ``arch``
    (None: inferred) key by key and shape by shape.

    Raises:
        InputError: on a key of another model, missing keys or shapes of another arch.
    """
    arch = arch or infer_arch(state_dict)
    renames = [(pattern, replacement.format(last=3)) for pattern, replacement in RENAMES]
    converted = rename_keys(state_dict, renames, 'VMamba (v05_noz) checkpoint')
    for key, value in converted.items():
        if POINTWISE.search(key) and value.dim() == 2:
            converted[key] = value[:, :, None, None]
        elif STACKED.search(key) and value.dim() == 3:
            converted[key] = value.flatten(0, 1)
    if 'head.fc.weight' not in converted:
        raise InputError('no classifier.head.weight in the checkpoint: not a VMamba classifier checkpoint')
    expected = expected_shapes(arch, converted['head.fc.weight'].shape[0])
    missing = [k for k in expected if k not in converted]
    unknown = [k for k in converted if k not in expected]
    if missing or unknown:
        listed = [f'{len(keys)} keys {kind} ({", ".join(keys[:3])}{", ..." if len(keys) > 3 else ""})'
                  for kind, keys in (('missing', missing), ('unknown', unknown)) if keys]
        raise InputError(f'not a VMamba-{arch} checkpoint: {"; ".join(listed)}')
    for key, shape in expected.items():
        if tuple(converted[key].shape) != shape:
            raise InputError(f'not a VMamba-{arch} checkpoint: {key} has shape {tuple(converted[key].shape)}, '
                             f'VMamba-{arch} {shape}')
    return {key: converted[key].contiguous() for key in expected}


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('src', help='official VMamba checkpoint (e.g. vssm1_tiny_0230s_ckpt_epoch_264.pth)')
    parser.add_argument('dst', help='path of the mmpretrain checkpoint to write')
    parser.add_argument('--arch', choices=ARCHS, help='VMamba arch to check the shapes against (default: inferred)')
    parser.add_argument('--ema', action='store_true', help="convert the EMA weights ('model_ema')")
    args = parser.parse_args()

    def convert_checkpoint(checkpoint):
        if not isinstance(checkpoint, dict):
            raise InputError(f'{args.src} holds a {type(checkpoint).__name__}, not a checkpoint dict')
        state_dict = convert(model_state_dict(checkpoint, args.ema), args.arch)
        return state_dict, dict(ema=args.ema, num_classes=int(state_dict['head.fc.weight'].shape[0]))

    # the training checkpoints also hold their yacs config: read as a plain dict, for this load only
    state_dict, meta = convert_checkpoint_file(args.src, args.dst, convert_checkpoint, osp.basename(__file__),
                                               safe_globals=[(_Config, 'yacs.config.CfgNode')])
    print(f'{len(state_dict)} tensors ({meta["num_classes"]} classes{", EMA" if args.ema else ""}); wrote {args.dst}')


if __name__ == '__main__':
    main()
