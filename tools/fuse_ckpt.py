"""Fuse a trained DenoiseRep checkpoint into a plain one that the baseline model loads with strict=True.

    python tools/fuse_ckpt.py CONFIG CHECKPOINT OUT

Builds the DenoiseRep model of CONFIG, loads CHECKPOINT, fuses every denoiser into its layer, checks on a
random input that the fused baseline model's features (``extract_feat``, else the backbone) equal the
unfused model's eval features, and writes OUT atomically with ``meta`` and the fused ``state_dict`` only
(no optimizer or training state). Checkpoints of DDP runs (``module.`` keys) and of mmengine's EMAHook
(raw weights, or the averaged ones with --ema) are taken as they come; one with a NaN or Inf is refused.
Each layer fuses with the step and schedule stored in CHECKPOINT (``*.denoiser._extra_state``): a CONFIG
whose ``num_steps``, ``beta_range`` or layer steps differ is refused, naming the layer and both values. A
checkpoint written before schedules were stored fuses with CONFIG's (a printed note says so).
The baseline model is the deploy form that ``strip_denoiserep`` gives: CONFIG without the DenoiseRepBackbone
wrapper, the model of the experiment's baseline config. OUT holds exactly the keys of its state_dict (strict
loading; see `load_state_dict_exact`). Any failure prints one line and exits non-zero, and leaves no OUT.
"""
import argparse
import os.path as osp
import sys

import torch

from mmdenoiserep import denoising_layers, fuse_denoisers
from mmdenoiserep.apis import build_model
from mmdenoiserep.cli import add_config_args, load_config
from mmdenoiserep.models import is_denoiserep_backbone, strip_denoiserep
from mmdenoiserep.utils import InputError, load_state_dict_exact, read_denoiserep_checkpoint, save_atomically

SCHEDULE_KEY = '.denoiser._extra_state'  # each layer's stored step and schedule (mmdenoiserep.core.layers)
RTOL = 1e-4  # max |fused - unfused| allowed, relative to max |unfused| (float32 rounding is ~1e-6)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('config', help='the DenoiseRep config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='the trained DenoiseRep checkpoint')
    parser.add_argument('out', help='path of the fused checkpoint to write')
    parser.add_argument('--ema', action='store_true',
                        help="fuse the EMA-averaged weights of a checkpoint saved with mmengine's EMAHook "
                        '(default: its raw weights)')
    parser.add_argument('--shape', type=int, nargs=4, metavar=('N', 'C', 'H', 'W'),
                        help="shape of the random input of the check (default: the DenoiseRepBackbone's "
                        'example_input_shape, else 1 3 224 224)')
    add_config_args(parser, launcher=False)
    return parser.parse_args()


def load_strict(model: torch.nn.Module, state_dict: dict, what: str) -> None:
    try:
        load_state_dict_exact(model, state_dict)
    except ValueError as error:
        raise InputError(f'{what}: {error}') from error


@torch.no_grad()
def features(model: torch.nn.Module, inputs: torch.Tensor) -> list:
    model.eval()
    try:
        out = model.extract_feat(inputs) if hasattr(model, 'extract_feat') else model.backbone(inputs)
    except Exception as error:  # shapes the model cannot take fail deep inside it, with various types
        shape = ' '.join(map(str, inputs.shape))
        raise InputError(f'--shape {shape} does not fit the model: {str(error).splitlines()[0]}') from error
    return [t for t in (out if isinstance(out, (list, tuple)) else [out]) if torch.is_tensor(t)]


def compare_features(actual: list, expected: list) -> float:
    """max |actual - expected| over the feature maps; InputError if their shapes differ or it exceeds
    RTOL x max(max |expected|, 1)."""
    shapes = [tuple(t.shape) for t in actual], [tuple(t.shape) for t in expected]
    if shapes[0] != shapes[1]:
        raise InputError(f'the baseline model gives feature maps of shapes {shapes[0]}, the unfused model '
                         f'{shapes[1]}')
    max_diff = max((a - e).abs().max().item() for a, e in zip(actual, expected))
    scale = max(e.abs().max().item() for e in expected)
    print(f'max |fused - unfused| over {len(expected)} feature maps: {max_diff:.3g} '
          f'(max |unfused| {scale:.3g})')
    if max_diff > RTOL * max(scale, 1.0):
        raise InputError(f'fused outputs differ from the unfused model by {max_diff:.3g}')
    return max_diff


def layer_schedules(model: torch.nn.Module) -> list:
    """The distinct schedules (num_steps, beta_range) of the model's denoising layers, as plain dicts."""
    found = {(layer.schedule.num_steps, tuple(layer.schedule.beta_range)) for _, layer in denoising_layers(model)}
    return [dict(num_steps=num_steps, beta_range=list(beta_range)) for num_steps, beta_range in sorted(found)]


def example_input_shape(model_cfg):
    """The ``example_input_shape`` of the first DenoiseRepBackbone in a model config (None if it has none)."""
    if isinstance(model_cfg, dict):
        if is_denoiserep_backbone(model_cfg) and model_cfg.get('example_input_shape'):
            return tuple(model_cfg['example_input_shape'])
        model_cfg = list(model_cfg.values())
    if isinstance(model_cfg, (list, tuple)):
        return next((shape for item in model_cfg if (shape := example_input_shape(item))), None)
    return None


def check_paths(args) -> None:
    if osp.isdir(args.out):
        raise InputError(f'OUT is a directory, expected a file path: {args.out}')
    if args.shape is not None and any(size < 1 for size in args.shape):
        raise InputError(f'--shape needs four positive sizes N C H W, got {" ".join(map(str, args.shape))}')


def fuse_checkpoint(args) -> None:
    check_paths(args)
    meta, state_dict = read_denoiserep_checkpoint(args.checkpoint, ema=args.ema)
    print(f'fusing {args.checkpoint}, taking {meta["denoiserep_weights"]}')
    cfg = load_config(args)
    model = build_model(cfg)
    if not denoising_layers(model):
        raise InputError(f'{args.config} builds no denoising layers (no DenoiseRepBackbone in its model)')
    baseline = build_model(cfg, model_cfg=strip_denoiserep(cfg.model))
    kept = [name for name, _ in denoising_layers(baseline)]
    if kept:  # e.g. mmdenoiserep.PostBackboneDenoiser: no layer consumes its output
        raise InputError(f'{args.config}: denoising layers outside a DenoiseRepBackbone do not fuse (its deploy form '
                         f'keeps them): {", ".join(kept)}; test the checkpoint unfused: tools/test.py {args.config} '
                         f'{args.checkpoint}')
    if not any(key.endswith(SCHEDULE_KEY) for key in state_dict):
        print(f'note: {args.checkpoint} stores no layer schedules (written before checkpoints did): fusing with '
              f'those of {args.config}')
        state_dict.update({key: value for key, value in model.state_dict().items() if key.endswith(SCHEDULE_KEY)})
    load_strict(model, state_dict, f'{args.checkpoint} does not match the model of {args.config}')
    n_unfused = sum(p.numel() for p in model.parameters())

    shape = args.shape or example_input_shape(cfg.model) or (1, 3, 224, 224)
    inputs = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    expected = features(model, inputs)
    schedules = layer_schedules(model)
    fuse_denoisers(model)

    fused_state = model.state_dict()
    load_strict(baseline, fused_state, 'the fused weights do not fit the baseline model')
    max_diff = compare_features(features(baseline, inputs), expected)

    meta['denoiserep_fused'] = dict(source=osp.abspath(args.checkpoint), max_abs_diff=max_diff,
                                    layers_fused=sum(k.endswith('.denoiser.weight') for k in state_dict),
                                    schedules=schedules)
    try:
        save_atomically(dict(meta=meta, state_dict=fused_state), args.out)
    except OSError as error:
        raise InputError(f'cannot write {args.out}: {error.strerror or error}') from error
    n_fused = sum(p.numel() for p in baseline.parameters())
    print(f'parameters: {n_unfused} unfused -> {n_fused} fused; wrote {args.out}')


def main():
    args = parse_args()
    try:
        fuse_checkpoint(args)
    except (InputError, FileNotFoundError) as error:
        sys.exit(f'fuse_ckpt.py: error: {error}')


if __name__ == '__main__':
    main()
