"""Convert an OpenAI CLIP ViT state_dict into the keys of ``mmdenoiserep.CLIPReID``'s encoders.

    python tools/model_converters/clip_to_mmdenoiserep.py SRC DST

SRC: the state_dict of an official CLIP ViT model (openai/CLIP ``clip/model.py``, e.g. ViT-B/16), a bare dict
or under ``state_dict``. openai/CLIP publishes TorchScript archives (``ViT-B-16.pt``), which a weights-only load
cannot read; extract the state_dict first (torch.jit.load runs the archive's code: only for a file you trust):

    python -c "import torch; torch.save(torch.jit.load('ViT-B-16.pt', map_location='cpu').state_dict(), 'clip.pth')"

The map is 1:1 and width-agnostic: ``visual.X`` -> ``backbone.X`` (`mmdenoiserep.CLIPImageEncoder`), every
text key (``token_embedding``, ``positional_embedding``, ``transformer.*``, ``ln_final``, ``text_projection``)
-> ``text_encoder.X`` (`mmdenoiserep.CLIPTextEncoder`). Dropped: ``logit_scale`` (CLIP's contrastive temperature,
which CLIP-ReID does not use) and the ints ``input_resolution``, ``context_length``, ``vocab_size`` of the
TorchScript state_dict (CLIP's ``build_model`` drops them too). The image position embedding is kept as it is
(1 + 14 x 14 for ViT-B/16 at 224 px): the image encoder resizes it to its own patch grid when it loads it, as
CLIP-ReID's ``build_model`` does. The configs load DST with ``init_cfg=dict(type='Pretrained', checkpoint=DST,
prefix='backbone.')`` and ``prefix='text_encoder.'``. DST holds ``state_dict`` and ``meta`` (SRC, the widths and
layer counts); written atomically. Bad input (a missing or unreadable file, a TorchScript archive, a ResNet CLIP,
a key of another model, a NaN or Inf) is a one-line error and no file.
"""
import argparse
import os.path as osp
import sys
import zipfile

from mmdenoiserep.utils import InputError, convert_checkpoint_file

TOOL = osp.basename(__file__)
TEXT_KEYS = ('token_embedding.', 'positional_embedding', 'transformer.', 'ln_final.', 'text_projection')
DROPPED = ('logit_scale', 'input_resolution', 'context_length', 'vocab_size')


def is_torchscript(path: str) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip holding ``<name>/constants.pkl``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith('/constants.pkl') for name in archive.namelist())


def convert(state_dict: dict) -> dict:
    """{'backbone.X': visual.X, 'text_encoder.Y': Y} of an official CLIP ViT state_dict (see the module)."""
    if 'visual.proj' not in state_dict or 'visual.conv1.weight' not in state_dict:
        raise InputError('not a CLIP ViT state_dict: no visual.proj / visual.conv1.weight (a ResNet CLIP is not '
                         'supported)')
    converted = {}
    for key, value in state_dict.items():
        if key in DROPPED:
            continue
        if key.startswith('visual.'):
            converted['backbone.' + key[len('visual.'):]] = value
        elif key.startswith(TEXT_KEYS):
            converted['text_encoder.' + key] = value
        else:
            raise InputError(f'not a CLIP ViT state_dict: unknown key {key!r}')
    return converted


def describe(state_dict: dict) -> dict:
    """The converted model's sizes, for ``meta``."""
    blocks = {prefix: len({k.split('.')[3] for k in state_dict if k.startswith(f'{prefix}.transformer.resblocks.')})
              for prefix in ('backbone', 'text_encoder')}
    return dict(vision_width=int(state_dict['backbone.conv1.weight'].shape[0]), vision_layers=blocks['backbone'],
                patch_size=int(state_dict['backbone.conv1.weight'].shape[-1]),
                text_width=int(state_dict['text_encoder.ln_final.weight'].shape[0]),
                text_layers=blocks['text_encoder'], embed_dim=int(state_dict['backbone.proj'].shape[1]))


def convert_checkpoint(checkpoint) -> tuple:
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get('state_dict'), dict):
        checkpoint = checkpoint['state_dict']
    if not isinstance(checkpoint, dict):
        raise InputError(f'SRC holds a {type(checkpoint).__name__}, not a state_dict')
    state_dict = convert(checkpoint)
    return state_dict, describe(state_dict)


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('src', help='state_dict of an OpenAI CLIP ViT model (e.g. ViT-B/16)')
    parser.add_argument('dst', help='path of the converted checkpoint to write')
    args = parser.parse_args()
    if osp.isfile(args.src) and is_torchscript(args.src):
        sys.exit(f'{TOOL}: error: {args.src} is a TorchScript archive: extract its state_dict first (see the '
                 "tool's docstring: torch.jit.load(SRC).state_dict())")
    state_dict, meta = convert_checkpoint_file(args.src, args.dst, convert_checkpoint, TOOL)
    print(f'{len(state_dict)} tensors (ViT width {meta["vision_width"]}, {meta["vision_layers"]} layers, patch '
          f'{meta["patch_size"]}; text width {meta["text_width"]}, {meta["text_layers"]} layers); wrote {args.dst}')


if __name__ == '__main__':
    main()
