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

import torch

from mmdenoiserep.utils import (InputError, checkpoint_state_dict, convert_checkpoint_file, rename_keys,
                                strip_ddp_prefix)

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

    def convert_checkpoint(checkpoint):
        state_dict = convert(dict(checkpoint_state_dict(checkpoint, args.src)))
        return state_dict, dict(num_classes=int(state_dict['head.fc.weight'].shape[0]))

    state_dict, meta = convert_checkpoint_file(args.src, args.dst, convert_checkpoint, osp.basename(__file__))
    print(f'{len(state_dict)} tensors ({meta["num_classes"]} classes); wrote {args.dst}')


if __name__ == '__main__':
    main()
