"""``mmdenoiserep.DenoiseRepBackbone``: any registered backbone, converted to its DenoiseRep form.

A config wraps the stock backbone dict::

    model = dict(backbone=dict(type='mmdenoiserep.DenoiseRepBackbone',
                               backbone=dict(type='mmpretrain.SwinTransformerV2', arch='tiny', ...)))

The registered name is a builder, not a container: it builds the inner backbone through the current
default scope's registry and converts it in place with `add_denoisers` (the weight Parameters are reused),
so the built module is the stock backbone class with the stock state_dict keys plus ``*.denoiser.*``.
A baseline checkpoint (``load_from``) or the backbone's own pretrained ``init_cfg``, applied later by the
runner, writes into the same Parameters; `tools/fuse_ckpt.py` turns a trained checkpoint back into one
that the plain backbone loads with strict=True.

Deploy form (one path, as mmpretrain's RepVGG: the deployed module is the stock one): the model of
`strip_denoiserep` (the config with every wrapper replaced by its inner backbone), which is the experiment's
baseline config's model. A fused checkpoint is tested with the baseline config; `tools/fuse_ckpt.py` checks
its output in ``strip_denoiserep(cfg.model)``.

Layer selection, ``preset`` (every DenoiseRep config names its own):
- ``'all'`` (the default, this project's choice): every layer of ``LAYER_TYPES`` (exact type) whose weight
  the backbone's forward applies, in execution order, except ``DEFAULT_EXCLUDE``: the layers it calls,
  those whose weight a registered owner module reads instead (mmpretrain's SwinV2 qkv, see
  ``toolbox_weight_readers.py``), and the in_proj and out_proj of nn.MultiheadAttention (MiT); both through
  the weight-reader table of `mmdenoiserep.core.weight_readers`.
- ``'authors'``: the selection of the authors' code (RG12138/DenoiseRep ``denoiserep_op``) for this backbone
  family (``AUTHORS_SELECTION``): for ViT and SwinV2 the Linear layers of the MLP blocks
  (``convert_vit_denoise_linear``: Linear children of modules named ``*mlp*``; mmpretrain's ``ffn`` and
  SwinV2's ``cpb_mlp``: ViT-S 24 layers, SwinV2-T 48), for CNNs every Conv2d with an odd kernel
  (``convert_denoise_conv2d``: ResNet-50 53 layers). A family the authors never converted is refused.
``include`` (glob patterns) replaces the preset's layer list, ``exclude`` its exclusions (e.g.
``preset='authors', exclude=('conv1',)``: the authors' selection without the stem). The build log names the
preset and reports converted/selected layers.
"""
from typing import Callable, Dict, List, Sequence, Tuple, Union

import torch
from mmcv.cnn.bricks import wrappers
from mmengine.logging import print_log
from torch import nn

from ..core import add_denoisers, convertible_layers, denoiser_report, denoising_layers, selected_layers
from ..registry import MODELS

__all__ = ['AUTHORS_SELECTION', 'DEFAULT_EXCLUDE', 'LAYER_PRESETS', 'LAYER_TYPES', 'build_denoiserep_backbone',
           'is_denoiserep_backbone', 'strip_denoiserep']

#: Linear layers that do not embed features: SwinV2's continuous position bias MLP maps the fixed
#: table of relative coordinates to attention biases.
DEFAULT_EXCLUDE = ('*cpb_mlp*',)
#: nn.Linear/nn.Conv2d and mmcv's wrappers of them (used by mmcv's FFN and ConvModule), whose forward is
#: the stock one for non-empty inputs, and nn.MultiheadAttention for its in_proj and out_proj.
LAYER_TYPES = (nn.Linear, nn.Conv2d, wrappers.Linear, wrappers.Conv2d, nn.MultiheadAttention)
LAYER_PRESETS = ('all', 'authors')


def mlp_linears(model: nn.Module) -> List[str]:
    """The authors' transformer rule in mmpretrain's names: Linear layers of an MLP block (a module named
    ``ffn``, mmpretrain's spelling of timm's ``mlp``, or one whose name contains ``mlp``, e.g. ``cpb_mlp``)."""
    return [name for name, layer in convertible_layers(model, LAYER_TYPES) if isinstance(layer, nn.Linear)
            and any(part == 'ffn' or 'mlp' in part.lower() for part in name.split('.')[:-1])]


def odd_kernel_convs(model: nn.Module) -> List[str]:
    """The authors' CNN rule (``convert_denoise_conv2d``): every Conv2d whose kernel is odd."""
    return [name for name, layer in convertible_layers(model, LAYER_TYPES)
            if isinstance(layer, nn.Conv2d) and layer.kernel_size[0] % 2 == 1]


#: backbone class name -> the authors' selection for it (``preset='authors'``).
AUTHORS_SELECTION: Dict[str, Callable[[nn.Module], List[str]]] = {
    'VisionTransformer': mlp_linears, 'SwinTransformerV2': mlp_linears,
    'TransReIDViT': mlp_linears,  # RG12138/DenoiseRep TransReID-SSL train.py: convert_vit_denoise_linear
    'ResNet': odd_kernel_convs, 'ResNetV1c': odd_kernel_convs, 'ResNetV1d': odd_kernel_convs,
    'Darknet': odd_kernel_convs,
}


@MODELS.register_module(name='DenoiseRepBackbone')
def build_denoiserep_backbone(backbone: dict,
                              preset: str = 'all',
                              include: Union[str, Sequence[str], None] = None,
                              exclude: Union[str, Sequence[str], None] = None,
                              num_steps: int = 1000,
                              beta_range: Tuple[float, float] = (1e-4, 2e-3),
                              noise_loss: str = 'l1+l2',
                              example_input_shape: Sequence[int] = (1, 3, 224, 224),
                              **backbone_kwargs) -> nn.Module:
    """Build ``backbone`` and add denoisers to it (see `mmdenoiserep.add_denoisers`).

    Args:
        backbone (dict): the stock backbone config, built in the current default scope.
        preset (str): the layer selection, 'all' or 'authors' (see the module docstring). Defaults to 'all'.
        include (str | Sequence[str], optional): glob patterns of layer names to convert, replacing the
            preset's layer list. Defaults to None (the preset's).
        exclude (str | Sequence[str], optional): glob patterns never converted, replacing the preset's
            exclusions. Defaults to None: the preset's (``DEFAULT_EXCLUDE`` for 'all', none for 'authors').
        num_steps (int): DDPM schedule length. Defaults to 1000.
        beta_range (tuple[float, float]): (beta_start, beta_end). Defaults to (1e-4, 2e-3).
        noise_loss (str): 'l1+l2', 'l1' or 'l2'. Defaults to 'l1+l2'.
        example_input_shape (Sequence[int]): (N, C, H, W) of the zero input whose forward (eval mode,
            no grad) fixes the execution order of the steps. Defaults to (1, 3, 224, 224).
        **backbone_kwargs: merged into ``backbone``: what a model puts into its backbone dict (e.g. the
            ``pretrained`` of mmseg's EncoderDecoder) reaches the inner backbone.
    """
    if not isinstance(backbone, dict) or 'type' not in backbone:
        raise TypeError(f'DenoiseRepBackbone needs backbone=dict(type=...), got {backbone!r}')
    if preset not in LAYER_PRESETS:
        raise ValueError(f'DenoiseRepBackbone: preset must be one of {LAYER_PRESETS}, got {preset!r}')
    if 'deploy' in backbone_kwargs:
        raise TypeError('DenoiseRepBackbone takes no deploy argument: the deploy form is the baseline config '
                        "(the model of strip_denoiserep(cfg.model)); test a fused checkpoint with it")
    model = MODELS.build({**backbone, **backbone_kwargs})
    family = type(model).__name__
    if preset == 'authors':
        if family not in AUTHORS_SELECTION:
            raise ValueError(f"DenoiseRepBackbone: no preset='authors' for {family}: the authors' code converts "
                             f'{", ".join(sorted(AUTHORS_SELECTION))}; use preset=\'all\' or include/exclude')
        rule = AUTHORS_SELECTION[family]
        preset_include, preset_exclude = tuple(rule(model)), None
        selection = f"preset 'authors' ({rule.__name__}, the authors' selection for {family})"
    else:
        preset_include, preset_exclude = None, DEFAULT_EXCLUDE
        selection = f"preset 'all' (every embedding layer except {', '.join(DEFAULT_EXCLUDE)})"
    if include is not None:
        selection += f' with include={include!r} replacing its layer list'
    if exclude is not None:
        selection += f' with exclude={exclude!r} replacing its exclusions'
    include = preset_include if include is None else include
    exclude = preset_exclude if exclude is None else exclude
    param = next(model.parameters())
    example = torch.zeros(*example_input_shape, dtype=param.dtype, device=param.device)
    layers = [name for name, _ in convertible_layers(model, LAYER_TYPES)]
    selected = selected_layers(model, LAYER_TYPES, include, exclude)
    add_denoisers(model, include=include, exclude=exclude, num_steps=num_steps, beta_range=beta_range,
                  example_inputs=example, layer_types=LAYER_TYPES, noise_loss=noise_loss)
    print_log(f'DenoiseRepBackbone: {family}: {selection}: {len(denoising_layers(model))} of {len(selected)} '
              f'selected Linear/Conv2d layers converted ({len(layers) - len(selected)} of {len(layers)} '
              f'not selected)\n{denoiser_report(model)}', logger='current')
    return model



def is_denoiserep_backbone(cfg: dict) -> bool:
    """Whether a config dict is the DenoiseRepBackbone wrapper (``type`` with or without its scope)."""
    return str(cfg.get('type')).split('.')[-1] == 'DenoiseRepBackbone'


def strip_denoiserep(cfg):
    """The deploy form of a (model) config: a copy with every DenoiseRepBackbone dict replaced by its inner
    backbone, the baseline's model, which loads a fused checkpoint (`tools/fuse_ckpt.py`) with strict=True."""
    if isinstance(cfg, dict):
        if is_denoiserep_backbone(cfg):
            return strip_denoiserep(cfg['backbone'])
        return type(cfg)({key: strip_denoiserep(value) for key, value in cfg.items()})
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(strip_denoiserep(item) for item in cfg)
    return cfg
