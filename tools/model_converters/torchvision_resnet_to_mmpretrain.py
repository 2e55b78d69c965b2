"""Convert a torchvision ResNet state_dict into an mmpretrain ImageClassifier checkpoint (ResNet + GAP + LinearClsHead).

    python tools/model_converters/torchvision_resnet_to_mmpretrain.py SRC DST

SRC is a state_dict as torchvision's model zoo ships it, e.g. ResNet-50 ``ResNet50_Weights.IMAGENET1K_V1``
(https://download.pytorch.org/models/resnet50-0676ba61.pth, acc@1 76.13: the paper's ResNet-50 baseline);
an mmengine-style ``{'state_dict': ...}`` wrapper and DDP's ``module.`` prefix are accepted too. mmpretrain's
``ResNet`` names its modules as torchvision does (``conv1``, ``bn1``, ``layer1``-``layer4`` with ``conv1``-
``conv3``, ``bn1``-``bn3``, ``downsample.0``/``.1``), so the stem and the stages become ``backbone.<same key>``
and the classifier ``fc`` becomes ``head.fc``; nothing is renamed inside. BatchNorm layers without
``num_batches_tracked`` (older zoo files) get it as 0, as torch's own loader does, so DST holds exactly the
keys of the model's state_dict. DST is ``{'meta': ..., 'state_dict': ...}`` as mmengine checkpoints, for a
config's ``load_from`` (e.g. configs/resnet50_control_in1k.py); written atomically. Bad input (a missing or
unreadable file, a key of another model, a NaN or Inf) is a one-line error and no file.
"""
import argparse
import os.path as osp
import sys

import torch

from mmdenoiserep.utils import (InputError, check_finite, checkpoint_state_dict, first_line, load_checkpoint_file,
                                rename_keys, save_atomically, strip_ddp_prefix)

#: torchvision ResNet key -> mmpretrain ImageClassifier key
RENAMES = [
    (r'^(conv1\.weight)$', r'backbone.\1'),
    (r'^(bn1\.(weight|bias|running_mean|running_var|num_batches_tracked))$', r'backbone.\1'),
    (r'^(layer[1-4]\.\d+\.(conv\d|bn\d|downsample\.[01])\.'
     r'(weight|bias|running_mean|running_var|num_batches_tracked))$', r'backbone.\1'),
    (r'^fc\.(weight|bias)$', r'head.fc.\1'),
]


def convert(state_dict: dict) -> dict:
    """The mmpretrain ImageClassifier state_dict of a torchvision ResNet state_dict.

    Raises:
        InputError: on a key no torchvision ResNet has, or without the stem conv or the classifier.
    """
    converted = rename_keys(strip_ddp_prefix(state_dict), RENAMES, 'torchvision ResNet state_dict')
    missing = [k for k in ('backbone.conv1.weight', 'backbone.bn1.weight', 'head.fc.weight', 'head.fc.bias')
               if k not in converted]
    if missing:
        raise InputError(f'no {", ".join(missing)} after conversion: not a torchvision ResNet state_dict')
    for key in [k for k in converted if k.endswith('.running_mean')]:  # torch's BN loader does the same
        converted.setdefault(key[:-len('running_mean')] + 'num_batches_tracked', torch.tensor(0, dtype=torch.long))
    return converted


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('src', help='torchvision ResNet state_dict (e.g. resnet50-0676ba61.pth)')
    parser.add_argument('dst', help='path of the mmpretrain checkpoint to write')
    args = parser.parse_args()
    try:
        if not osp.isfile(args.src):
            raise InputError(f'SRC not found: {args.src}' + (' (a directory)' if osp.isdir(args.src) else ''))
        try:
            checkpoint = load_checkpoint_file(args.src)  # torch.load(weights_only=True)
            state_dict = checkpoint_state_dict(checkpoint)
        except InputError as error:
            raise InputError(f'{args.src} {error}') from error
        except Exception as error:  # torch raises several types for truncated or foreign files
            raise InputError(f'cannot read {args.src}: {first_line(error)}') from error
        state_dict = convert(dict(state_dict))
        check_finite(state_dict, args.src)
        meta = dict(converted_from=osp.abspath(args.src), converter=osp.basename(__file__),
                    num_classes=int(state_dict['head.fc.weight'].shape[0]))
        save_atomically(dict(meta=meta, state_dict=state_dict), args.dst)
    except InputError as error:
        sys.exit(f'torchvision_resnet_to_mmpretrain.py: error: {error}')
    except OSError as error:
        sys.exit(f'torchvision_resnet_to_mmpretrain.py: error: cannot write {args.dst}: {first_line(error)}')
    print(f'{len(state_dict)} tensors ({meta["num_classes"]} classes); wrote {args.dst}')


if __name__ == '__main__':
    main()
