"""Entering a training phase (method.md section 5) and the backbone-only denoise phase.

`set_phase` sets the phase flags of the denoising layers and the matching ``requires_grad`` flags;
`enter_phase` is the whole step a training loop takes before a training iteration: train mode, the phase,
the denoisers of parts a backbone freezes itself (``frozen_stages``) trainable again, running statistics
frozen in the denoise phase, and optionally the backbone-only forward of the denoise phase.

Backbone only: in the denoise phase every Parameter outside the denoisers is frozen, so the neck and head
(and their losses) train nothing; a model whose denoising layers all sit in ``model.backbone`` can compute
the backbone alone, whose forward records every denoising layer's input. The denoisers then get exactly the
gradients of the full forward, at a fraction of its cost. The model (an OpenMMLab model: ``forward(inputs,
data_samples, mode)`` calls ``self.loss(inputs, data_samples)`` in ``mode='loss'``) then computes
``self.backbone(inputs)`` in its ``loss`` and returns ``{}``: no task loss. Like
`torch.nn.utils.parametrize`, this gives the module a subclass of its own class for the time being (its
``loss`` overridden; no attribute of the instance is set, ``isinstance`` checks, Parameters, buffers,
hooks and the state dict are unchanged); `set_backbone_only(model, False)` gives it back its class.
"""
import contextlib
from typing import Dict, Iterator, Optional

from torch import nn

from .convert import _check_module, denoising_layers, freeze_running_stats, set_phase
from .layers import PHASES

__all__ = ['enter_phase', 'backbone_only', 'set_backbone_only', 'is_backbone_only', 'backbone_only_blocker']

#: original class -> its backbone-only subclass (one per class, so that the swap is cheap and repeatable)
_BACKBONE_ONLY_CLASSES: Dict[type, type] = {}


def _backbone_only_loss(self, inputs, data_samples=None) -> dict:
    """``loss`` in the backbone-only denoise phase: the backbone forward only (it records the denoising
    layers' inputs for the noise-prediction loss); no task loss."""
    self.backbone(inputs)
    return {}


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside torch's DataParallel / DistributedDataParallel (mmengine's wrappers subclass them)."""
    _check_module(model)
    while isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    return model


def backbone_only_blocker(model: nn.Module) -> Optional[str]:
    """Why ``model`` cannot run the backbone only in the denoise phase, or None when it can.

    It can when it has a ``loss`` method and every denoising layer is inside ``model.backbone``.

    Returns:
        Optional[str]: e.g. ``'denoising layers outside model.backbone: neck.fc, head.fc'`` (at most five
        named), or ``'denoising layers outside model.backbone: none (the model has no loss method)'``.
    """
    model = _unwrap(model)
    backbone = getattr(model, 'backbone', None)
    inside = {id(layer) for _, layer in denoising_layers(backbone)} if isinstance(backbone, nn.Module) else set()
    outside = [name for name, layer in denoising_layers(model) if id(layer) not in inside]
    if outside or not callable(getattr(model, 'loss', None)):
        return ('denoising layers outside model.backbone: '
                f'{", ".join(outside[:5]) or "none (the model has no loss method)"}')
    return None


def is_backbone_only(model: nn.Module) -> bool:
    """Whether ``model`` (or the module in a DDP wrapper) runs the backbone only in its ``loss``."""
    return getattr(type(_unwrap(model)), '_denoiserep_full_class', None) is not None


def set_backbone_only(model: nn.Module, enabled: bool) -> nn.Module:
    """Make ``model.loss(inputs, data_samples)`` compute only ``model.backbone(inputs)`` and return ``{}``
    (``enabled=True``), or the model's own ``loss`` again (``enabled=False``). Idempotent.

    A model wrapper (DDP) is unwrapped: its forward calls the wrapped module's ``loss``. The data still goes
    through the model's ``data_preprocessor`` in ``train_step``, as in any training iteration.

    Args:
        model (nn.Module): an OpenMMLab model (``forward(inputs, data_samples, mode)``, ``loss``,
            ``backbone``) with denoising layers only in its backbone, or a wrapper of one.
        enabled (bool): backbone only, or the full ``loss``.

    Returns:
        nn.Module: ``model``.

    Raises:
        ValueError: ``enabled`` and the model cannot (`backbone_only_blocker`).

    Note:
        While enabled, the module's class is a subclass created here: pickle the whole module
        (``torch.save(model)``, not its state dict) only after ``set_backbone_only(model, False)``.
    """
    if not isinstance(enabled, bool):
        raise TypeError(f'enabled must be a bool, got {enabled!r}')
    module = _unwrap(model)
    full_class = getattr(type(module), '_denoiserep_full_class', None)
    if not enabled:
        if full_class is not None:
            module.__class__ = full_class
        return model
    if full_class is not None:
        return model
    blocker = backbone_only_blocker(module)
    if blocker is not None:
        raise ValueError(f'the model cannot run the backbone only: {blocker}')
    cls = type(module)
    if cls not in _BACKBONE_ONLY_CLASSES:
        _BACKBONE_ONLY_CLASSES[cls] = type(f'BackboneOnly{cls.__name__}', (cls,), {
            'loss': _backbone_only_loss, '_denoiserep_full_class': cls, '__module__': cls.__module__,
            '__doc__': f'{cls.__name__} whose ``loss`` runs the backbone only (mmdenoiserep.set_backbone_only).'})
    module.__class__ = _BACKBONE_ONLY_CLASSES[cls]
    return model


@contextlib.contextmanager
def backbone_only(model: nn.Module) -> Iterator[nn.Module]:
    """Context manager: `set_backbone_only` (``True``) inside, the state of before on exit.

    Examples:
        >>> enter_phase(model, 'denoise')
        >>> with backbone_only(model):
        ...     losses = model.train_step(data, optim_wrapper)  # {'loss_denoise': ...} with DenoiseRepHook
    """
    was = is_backbone_only(model)
    set_backbone_only(model, True)
    try:
        yield model
    finally:
        set_backbone_only(model, was)


def enter_phase(model: nn.Module, phase: str, backbone_only: bool = False) -> nn.Module:
    """Put ``model`` in training mode in ``phase``, as DenoiseRepHook does before every training iteration.

    1. ``model.train()`` (norm layers follow the model's own ``train()``, e.g. ``norm_eval``);
    2. `set_phase` (the ``requires_grad`` flags of the phase; a phase change drops pending gradients);
    3. every denoising layer in train mode, its denoiser trainable unless ``phase == 'finetune'``: a
       backbone's ``train()`` may freeze parts of itself (``frozen_stages``), denoisers included;
    4. ``denoise``: every module with running statistics in eval mode (`freeze_running_stats`);
    5. `set_backbone_only` (``phase == 'denoise' and backbone_only``), or the full ``loss``.

    Idempotent: call it after every ``model.train()`` of a training loop (mmengine's loops call it once per
    epoch or run).

    Args:
        model (nn.Module): a model with denoising layers, or a DDP wrapper of one.
        phase (str): 'denoise', 'finetune' or 'joint'.
        backbone_only (bool): in the denoise phase, run only the backbone in ``model.loss``. Defaults to
            False.

    Returns:
        nn.Module: ``model``.

    Raises:
        ValueError: an unknown phase, a model without denoising layers, or ``backbone_only`` in the denoise
            phase for a model that cannot (`backbone_only_blocker`: check it first to fall back).

    Examples:
        >>> for phase in ('denoise', 'finetune'):
        ...     enter_phase(model, phase, backbone_only=True)  # backbone only applies to 'denoise'
        ...     losses = model(inputs, data_samples, mode='loss')
    """
    module = _unwrap(model)
    if phase not in PHASES:
        raise ValueError(f'phase must be one of {PHASES}, got {phase!r}')
    module.train()
    set_phase(module, phase)
    for _, layer in denoising_layers(module):
        layer.train()
        layer.denoiser.requires_grad_(phase != 'finetune')
    if phase == 'denoise':
        freeze_running_stats(module)
    set_backbone_only(module, phase == 'denoise' and bool(backbone_only))
    return model
