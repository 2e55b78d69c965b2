"""``mmdenoiserep.CLIPReIDOptimWrapperConstructor``: CLIP-ReID's two optimizers, one per training stage.

    optim_wrapper = dict(
        constructor='mmdenoiserep.CLIPReIDOptimWrapperConstructor',
        prompt=dict(type='AmpOptimWrapper', optimizer=dict(type='Adam', lr=3.5e-4, weight_decay=1e-4)),
        image=dict(type='AmpOptimWrapper', optimizer=dict(type='Adam', lr=5e-6, weight_decay=1e-4),
                   paramwise_cfg=dict(custom_keys={'bias': dict(lr_mult=2.0)})))

Syliz517/CLIP-ReID ``solver/make_optimizer_prompt.py``: ``make_optimizer_1stage`` takes the parameters whose
name holds ``prompt_learner``; ``make_optimizer_2stage`` every trainable parameter outside ``text_encoder`` and
``prompt_learner`` (the image encoder with its SIE embedding, the BNNecks, the classifiers). Here ``prompt`` is
built over ``model.prompt_learner`` and ``image`` over the model's other children but ``text_encoder``, each
with its own ``constructor`` and ``paramwise_cfg`` (default: mmengine's; ``paramwise_cfg`` keys match the
model's parameter names). The result is an ``OptimWrapperDict``; `mmdenoiserep.CLIPReIDTrainLoop` steps
``prompt`` in stage 1 and ``image`` in stage 2, and a ``param_scheduler`` dict keyed the same way schedules each.
"""
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict, build_optim_wrapper
from torch import nn

from ..registry import OPTIM_WRAPPER_CONSTRUCTORS
from ..utils import InputError

__all__ = ['CLIPReIDOptimWrapperConstructor', 'image_stage_modules']

PARTS = ('prompt', 'image')


def image_stage_modules(model: nn.Module) -> nn.Module:
    """A module holding the model's children that stage 2 trains (all but ``text_encoder`` and
    ``prompt_learner``), under their own names (parameter names as in the model)."""
    holder = nn.Module()
    for name, child in model.named_children():
        if name not in ('text_encoder', 'prompt_learner'):
            holder.add_module(name, child)
    if list(model.parameters(recurse=False)):
        raise InputError('CLIPReIDOptimWrapperConstructor: the model holds Parameters of its own; put them in a '
                         'sub-module')
    return holder


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class CLIPReIDOptimWrapperConstructor:
    """Build ``prompt`` and ``image`` (see the module docstring); ``paramwise_cfg`` goes inside each part.

    Args:
        optim_wrapper_cfg (dict): ``prompt`` and ``image``, each an optim wrapper config (``type``,
            ``optimizer``, optionally ``constructor`` and ``paramwise_cfg``).
        paramwise_cfg (dict, optional): must be None (give each part its own).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg=None):
        if paramwise_cfg:
            raise InputError('CLIPReIDOptimWrapperConstructor: give paramwise_cfg inside prompt=... and image=...')
        if set(optim_wrapper_cfg) != set(PARTS):
            raise InputError(f'CLIPReIDOptimWrapperConstructor: optim_wrapper needs exactly {PARTS}, got '
                             f'{sorted(optim_wrapper_cfg)}')
        self.optim_wrapper_cfg = optim_wrapper_cfg

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        model = model.module if is_model_wrapper(model) else model
        modules = dict(prompt=model.prompt_learner, image=image_stage_modules(model))
        return OptimWrapperDict(**{name: build_optim_wrapper(modules[name], dict(self.optim_wrapper_cfg[name]))
                                   for name in PARTS})
