"""Convert a model in place: add denoisers, switch training phase, read the loss, fuse for deployment.

The flow follows torch.ao.quantization's prepare/convert: `add_denoisers` swaps selected nn.Linear and
nn.Conv2d modules for their denoising subclasses (reusing the weight Parameters), the model trains,
`fuse_denoisers` swaps them back to the stock classes holding the fused weights. A layer whose weight a
module (its owner) applies itself is converted by the owner type's `WeightReader` (`weight_readers.py`),
taken from the table ``add_denoisers(weight_readers=...)``. In eval mode an unfused
model computes each fused weight W' once and reuses it while the weights are unchanged (layers.py);
`fused_weights_cached(model, enabled=False)` turns that off for a block.
"""
import contextlib
import fnmatch
import logging
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from .layers import PHASES, DenoisingConv2d, DenoisingLayer, DenoisingLinear
from .schedule import step_coefficients
from .weight_readers import (DEFAULT_WEIGHT_READERS, WeightReader, attach_reader, attached_reader, detach_reader,
                             get_default_weight_readers)

__all__ = ['DEFAULT_MAPPING', 'add_denoisers', 'convertible_layers', 'selected_layers', 'set_phase', 'denoise_loss',
           'discard_recorded_calls', 'freeze_running_stats', 'keeps_running_stats', 'fuse_denoisers',
           'denoising_layers', 'denoiser_parameters', 'denoiser_report', 'fused_weights_cached']

logger = logging.getLogger(__name__)

#: kind of stock layer -> its denoising replacement. Selection is by exact type (``layer_types``): a
#: subclass (e.g. mmcv's wrappers) is converted only when listed explicitly.
DEFAULT_MAPPING = {nn.Linear: DenoisingLinear, nn.Conv2d: DenoisingConv2d}


def _denoising_class(layer_type: type) -> type:
    for kind, denoising in DEFAULT_MAPPING.items():
        if issubclass(layer_type, kind):
            return denoising
    raise ValueError(f'{layer_type.__name__} is not an nn.Linear or nn.Conv2d (sub)class')


# Attribute on the root module: the base Parameters that set_phase('denoise') froze, to thaw later.
_FROZEN_ATTR = '_denoiserep_frozen_by_phase'


def _check_module(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f'expected a torch.nn.Module, got {type(model).__name__}')


def denoising_layers(model: nn.Module) -> List[Tuple[str, DenoisingLayer]]:
    """(qualified name, layer) of every denoising layer of ``model``, in registration order."""
    _check_module(model)
    return [(name, m) for name, m in model.named_modules() if isinstance(m, DenoisingLayer)]


def denoiser_parameters(model: nn.Module) -> List[nn.Parameter]:
    """The Parameters of every denoiser (the only parameters DenoiseRep adds)."""
    return [p for _, layer in denoising_layers(model) for p in layer.denoiser.parameters()]


def _matches(name: str, patterns: Optional[Iterable[str]]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns or ())


def _as_patterns(patterns, arg: str) -> Optional[Tuple[str, ...]]:
    if patterns is None:
        return None
    if isinstance(patterns, str):
        patterns = (patterns,)
    if not isinstance(patterns, (list, tuple)) or not all(isinstance(p, str) for p in patterns):
        raise TypeError(f'{arg} must be a glob pattern or a sequence of them, got {patterns!r}')
    return tuple(patterns)


def _name_filter(include, exclude) -> Callable[[str], bool]:
    """Whether a qualified module name matches ``include`` (None: every name) and no ``exclude`` pattern;
    raises TypeError for patterns that are not strings."""
    include, exclude = _as_patterns(include, 'include'), _as_patterns(exclude, 'exclude')
    return lambda name: (include is None or _matches(name, include)) and not _matches(name, exclude)


class _Read(NamedTuple):
    """A layer that ``owner`` reads: its name relative to the owner and the module that stands for it."""
    owner: nn.Module
    name: str
    stand_in: nn.Module


def _as_readers(weight_readers) -> Dict[type, WeightReader]:
    if weight_readers is None:
        return DEFAULT_WEIGHT_READERS
    if not isinstance(weight_readers, dict) or not all(
            isinstance(t, type) and isinstance(r, WeightReader) for t, r in weight_readers.items()):
        raise TypeError(f'weight_readers must be a dict {{owner type: WeightReader}}, got {weight_readers!r}')
    return weight_readers


def _read_layers(model: nn.Module, readers: Dict[type, WeightReader]) -> Dict[str, _Read]:
    """{qualified name of each layer that a module of ``model`` of a type in ``readers`` reads: its `_Read`}."""
    found = {}
    for owner_name, owner in model.named_modules():
        reader = readers.get(type(owner))
        for name, stand_in in (reader.layers(owner) if reader else {}).items():
            found[f'{owner_name}.{name}' if owner_name else name] = _Read(owner, name, stand_in)
    return found


def _execution_order(model: nn.Module, candidates: Dict[str, nn.Module], example_inputs,
                     reads: Dict[str, _Read]) -> List[str]:
    """Names of ``candidates`` in the order a forward on ``example_inputs`` first calls them.

    A layer whose weight its owner reads (``reads``) counts as called when its owner is called.
    Runs in eval mode under no_grad (no running statistics change) and restores every module's mode.
    """
    order: List[str] = []
    handles = []
    for name, module in candidates.items():
        def record(_module, _inputs, name=name):
            if name not in order:
                order.append(name)
        hooked = reads[name].owner if name in reads else module
        handles.append(hooked.register_forward_pre_hook(record))
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with torch.no_grad():
            if isinstance(example_inputs, dict):
                model(**example_inputs)
            elif isinstance(example_inputs, (tuple, list)):
                model(*example_inputs)
            else:
                model(example_inputs)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    return order


def add_denoisers(model: nn.Module,
                  include: Union[str, Sequence[str], None] = None,
                  exclude: Union[str, Sequence[str], None] = None,
                  num_steps: int = 1000,
                  beta_range: Tuple[float, float] = (1e-4, 2e-3),
                  example_inputs=None,
                  layer_types: Sequence[type] = (nn.Linear, nn.Conv2d),
                  noise_loss: str = 'l1+l2',
                  weight_readers: Optional[Dict[type, WeightReader]] = None) -> nn.Module:
    """Swap the selected Linear/Conv2d layers of ``model`` for denoising layers, in place.

    Steps are numbered globally in forward-execution order: the first layer executed gets t = L, the
    last t = 1 (L = number of converted layers). A layer whose weight its owner module reads instead of
    calling it (``weight_readers``, e.g. SwinV2's qkv) is converted by the owner's reader, and the owner's
    forward runs through the reader's hooks. With ``example_inputs`` the order comes from a traced
    forward (selected layers that this forward never calls are left unconverted, with a warning);
    without, registration order is used.

    Args:
        model: the module to convert (in place).
        include: glob pattern(s) on qualified module names (``fnmatch``, e.g. ``'layer1.*'``); a layer
            is selected if it matches any. None selects every layer of ``layer_types``.
        exclude: glob pattern(s); a matching layer is never converted.
        num_steps: length T of the linear DDPM schedule. Must be >= the number of converted layers.
        beta_range: (beta_start, beta_end) of the schedule.
        example_inputs: a tensor, a tuple of positional inputs or a dict of keyword inputs for a
            forward that fixes the execution order.
        layer_types: types to convert, matched exactly; each a subclass of nn.Linear or nn.Conv2d whose
            forward is the stock one (e.g. mmcv's empty-tensor wrappers), or an owner type of
            ``weight_readers`` for every layer it reads (nn.MultiheadAttention: in_proj and out_proj). A
            layer that an owner reads is converted when its own type or its owner's type is listed.
        noise_loss: 'l1+l2' (the authors' default), 'l1' or 'l2'.
        weight_readers: {owner type (exact): `WeightReader`}; None: `get_default_weight_readers()` (the
            project's table: nn.MultiheadAttention, and mmpretrain's SwinV2 window attention once
            ``mmdenoiserep.models`` is imported).

    Returns:
        ``model``. `denoiser_report(model)` gives a table of the converted layers.
    """
    _check_module(model)
    readers = get_default_weight_readers() if weight_readers is None else _as_readers(weight_readers)
    layer_types = tuple(layer_types)
    if not layer_types or not all(isinstance(t, type) for t in layer_types):
        raise ValueError(f'layer_types must be a non-empty sequence of types, got {layer_types!r}')
    for layer_type in layer_types:
        if layer_type not in readers:
            _denoising_class(layer_type)  # raises for a type that cannot be converted
    if denoising_layers(model):
        raise ValueError('model already has denoising layers; call add_denoisers once per model')

    candidates = selected_layers(model, layer_types, include, exclude, readers)
    if not candidates:
        raise ValueError(f'no {"/".join(t.__name__ for t in layer_types)} layer matches '
                         f'include={include!r}, exclude={exclude!r}')
    reads = _read_layers(model, readers)
    _warn_unlisted_subclasses(model, candidates, _name_filter(include, exclude), reads)
    names = list(candidates)
    if example_inputs is not None:
        names = _execution_order(model, candidates, example_inputs, reads)
        skipped = [n for n in candidates if n not in names]
        if skipped:
            logger.warning('add_denoisers: %d selected layers are not called by the example forward '
                           'and stay unconverted: %s', len(skipped), ', '.join(skipped))
        if not names:
            raise ValueError('no selected layer is called by the forward on example_inputs')
    if len(names) > num_steps:
        raise ValueError(f'{len(names)} layers need num_steps >= {len(names)}, got {num_steps}')

    replacements, owners = {}, {}
    for index, name in enumerate(names):
        coefficients = step_coefficients(len(names) - index, num_steps, beta_range)
        if name in reads:  # put in place by its owner's reader
            owner = reads[name].owner
            readers[type(owner)].convert(owner, reads[name].name, coefficients, noise_loss)
            owners[id(owner)] = owner
        else:
            layer = candidates[name]
            replacements[id(layer)] = _denoising_class(type(layer)).from_plain(layer, coefficients, noise_loss)
    _swap_modules(model, replacements)
    for owner in owners.values():
        attach_reader(owner, readers[type(owner)])
    logger.info('add_denoisers: converted %d layers (steps %d..1 of %d)', len(names), len(names), num_steps)
    return model


def _warn_unlisted_subclasses(model: nn.Module, candidates: Dict[str, nn.Module],
                              selects: Callable[[str], bool], reads: Dict[str, _Read]) -> None:
    """Warn about Linear/Conv2d subclasses (e.g. mmcv's wrappers) that the name filter ``selects`` but that
    are not ``candidates`` (their exact type is not listed): they stay plain, which is easy to miss. A layer
    that an owner reads (``reads``: e.g. nn.MultiheadAttention's out_proj) goes with its owner: not warned."""
    read = {id(r.stand_in) for r in reads.values()}
    unlisted = sorted({type(m).__name__ for n, m in model.named_modules()
                       if isinstance(m, (nn.Linear, nn.Conv2d)) and n not in candidates
                       and id(m) not in read and selects(n)})
    if unlisted:
        logger.warning('add_denoisers: layers of types %s subclass nn.Linear/nn.Conv2d but are not in '
                       'layer_types, so they stay unconverted; add their types to layer_types to convert them',
                       ', '.join(unlisted))


def convertible_layers(model: nn.Module, layer_types: Tuple[type, ...],
                       weight_readers: Optional[Dict[type, WeightReader]] = None):
    """(name, module) of the layers of ``layer_types`` (exact types), in registration order, and of the
    layers that an owner of a type in ``weight_readers`` (None: the project's table) reads where the owner's
    type or the layer's is listed: named '<owner>.<name>', given as the module that stands for the layer (a
    child layer, at its place; the owner for a weight of its own, at the owner's place, e.g.
    nn.MultiheadAttention's '<attn>.in_proj'). Neither a layer that an owner reads nor an owner is ever
    listed as an ordinary layer."""
    layer_types, readers = tuple(layer_types), _as_readers(weight_readers)
    reads = _read_layers(model, readers)
    read = {id(r.stand_in) for r in reads.values()}
    at_place: Dict[int, List[Tuple[str, nn.Module]]] = {}
    for name, r in reads.items():
        if type(r.owner) in layer_types or type(r.stand_in) in layer_types:
            at_place.setdefault(id(r.stand_in), []).append((name, r.stand_in))
    for name, module in model.named_modules():
        yield from at_place.get(id(module), ())
        if type(module) in layer_types and id(module) not in read and type(module) not in readers:
            yield name, module


def selected_layers(model: nn.Module, layer_types: Tuple[type, ...],
                    include: Union[str, Sequence[str], None] = None,
                    exclude: Union[str, Sequence[str], None] = None,
                    weight_readers: Optional[Dict[type, WeightReader]] = None) -> Dict[str, nn.Module]:
    """{name: module} of the `convertible_layers` whose name matches ``include`` (None: all) and not
    ``exclude`` (glob patterns): what `add_denoisers` converts, before the example forward."""
    selects = _name_filter(include, exclude)
    return {name: module for name, module in convertible_layers(model, layer_types, weight_readers)
            if selects(name)}


def _swap_modules(model: nn.Module, replacements: Dict[int, nn.Module]) -> None:
    """Replace every registration of each module whose id is a key (shared modules included)."""
    for parent in list(model.modules()):
        for child_name, child in list(parent._modules.items()):
            if child is not None and id(child) in replacements:
                setattr(parent, child_name, replacements[id(child)])


def _freeze(param: nn.Parameter) -> None:
    """requires_grad=False, and drop a pending gradient (e.g. accumulated before a phase change), which
    an optimizer step would otherwise still apply."""
    param.requires_grad_(False)
    param.grad = None


def set_phase(model: nn.Module, phase: str) -> nn.Module:
    """Set the training phase of every denoising layer and the matching ``requires_grad`` flags.

    denoise: denoisers train, every other Parameter of ``model`` is frozen (those already frozen are
    remembered as frozen by their owner). finetune: denoisers frozen, the Parameters frozen by an
    earlier 'denoise' are trainable again. joint: both. Parameter objects are never replaced; a
    Parameter frozen here loses its pending ``.grad``, so gradients accumulated in one phase are never
    applied in the next. Calls recorded for the noise-prediction loss are discarded.

    A backbone that re-freezes parts of itself in ``train()`` (mmdet/mmpretrain ``frozen_stages``)
    freezes their denoisers too: call ``set_phase`` after ``model.train()``, as DenoiseRepHook does.
    """
    _check_module(model)
    if phase not in PHASES:
        raise ValueError(f'phase must be one of {PHASES}, got {phase!r}')
    layers = denoising_layers(model)
    if not layers:
        raise ValueError('model has no denoising layers; call add_denoisers first')
    denoiser_ids = {id(p) for p in denoiser_parameters(model)}
    frozen: List[nn.Parameter] = getattr(model, _FROZEN_ATTR, [])
    if phase == 'denoise':
        for p in model.parameters():
            if id(p) not in denoiser_ids and p.requires_grad:
                _freeze(p)
                frozen.append(p)
    else:
        _thaw_frozen_by_phase(model)
        frozen = []
    setattr(model, _FROZEN_ATTR, frozen)
    for _, layer in layers:
        layer.phase = phase
        layer.recorded_inputs = []
        for p in layer.denoiser.parameters():
            if phase == 'finetune':
                _freeze(p)
            else:
                p.requires_grad_(True)
    return model


def _thaw_frozen_by_phase(model: nn.Module) -> None:
    """Make the Parameters that set_phase('denoise') froze trainable again, and forget them."""
    for p in getattr(model, _FROZEN_ATTR, []):
        p.requires_grad_(True)
    if hasattr(model, _FROZEN_ATTR):
        delattr(model, _FROZEN_ATTR)


def keeps_running_stats(module: nn.Module) -> bool:
    """Whether ``module`` updates running statistics in train mode (any BatchNorm/SyncBN/InstanceNorm
    flavour: torch's, mmcv's SyncBatchNorm, mmengine's BatchNormXd), told by its ``running_mean`` buffer."""
    return module._buffers.get('running_mean') is not None


def freeze_running_stats(model: nn.Module) -> List[str]:
    """Put every module of ``model`` that keeps running statistics in eval mode; returns their names.

    The denoise phase calls this after ``model.train()`` so that the statistics do not move.
    """
    _check_module(model)
    names = []
    for name, module in model.named_modules():
        if keeps_running_stats(module):
            module.eval()
            names.append(name)
    return names


def denoise_loss(model: nn.Module, per_layer: bool = False,
                 positions: float = 1.0) -> Union[Tensor, Dict[str, Tensor]]:
    """Noise-prediction loss of the training calls recorded since the last collection (unweighted).

    sum over layers i, sum over the calls c of layer i since the last collection, of loss_i(x_c).
    Collecting consumes the recorded calls: each call counts exactly once, a layer called twice in a
    forward counts twice, a layer not called counts nothing. Call it once per training forward.
    With ``per_layer=True``, a dict {layer name: loss} of the layers with recorded calls instead.
    Without any (eval mode, the finetune phase, already collected), the sum is a zero tensor.
    ``positions`` < 1 estimates each loss on that fraction of its input positions (unbiased; cheaper).
    """
    losses = {}
    for name, layer in denoising_layers(model):
        loss = layer.pop_noise_loss(positions)
        if loss is not None:
            losses[name] = loss
    if per_layer:
        return losses
    if not losses:
        params = denoiser_parameters(model)
        return params[0].new_zeros(()) if params else torch.zeros(())
    return torch.stack(list(losses.values())).sum()


@contextlib.contextmanager
def fused_weights_cached(model: nn.Module, enabled: bool = True) -> Iterator[nn.Module]:
    """Within the block, the denoising layers of ``model`` reuse W', b' in eval mode (``enabled=True``)
    or compute them in every forward (``enabled=False``), whatever their ``reuse_fused_weights``.

    Reuse is the default in eval mode (layers.py): an unfused model then costs what the fused model costs
    after the first forward, while W, b, A, a are unchanged (replacement, dtype or device conversion and
    in-place changes such as optimizer steps, ``load_state_dict`` and ``copy_`` are picked up). Writes
    through ``.data`` are not: make them inside ``fused_weights_cached(model, enabled=False)``, or call
    ``model.eval()`` after them. W', b' kept by the layers are dropped on entry and on exit, so the block
    uses no W' from before it and leaves none behind. DenoiseRepHook opens it around validation and test
    loops.

    Args:
        model: the model whose denoising layers are switched.
        enabled: reuse W', b' (True) or recompute them in every forward (False). Defaults to True.
    """
    if not isinstance(enabled, bool):
        raise TypeError(f'enabled must be a bool, got {enabled!r}')
    layers = [layer for _, layer in denoising_layers(model)]
    previous = [layer.reuse_fused_weights for layer in layers]
    for layer in layers:
        layer.reuse_fused_weights = enabled
        layer._fused_cache = None
    try:
        yield model
    finally:
        for layer, reuse in zip(layers, previous):
            layer.reuse_fused_weights = reuse
            layer._fused_cache = None


def discard_recorded_calls(model: nn.Module) -> None:
    """Forget the calls recorded for the noise-prediction loss (e.g. before a new training forward)."""
    for _, layer in denoising_layers(model):
        layer.recorded_inputs = []


def fuse_denoisers(model: nn.Module) -> nn.Module:
    """Replace every denoising layer by the stock nn.Linear/nn.Conv2d holding W', b', in place.

    Owners of read layers are given back their stock form by their readers (`WeightReader.fuse`) and lose
    the reader's hooks. Afterwards ``model.state_dict()`` has exactly the keys of the model before
    `add_denoisers`, and
    every Parameter is as trainable as it was before `set_phase` (what a 'denoise' phase froze is
    thawed; what was frozen before stays frozen). Returns ``model``; a module that is itself a
    denoising layer is returned fused (not in place).
    """
    _check_module(model)
    if isinstance(model, DenoisingLayer):
        return model.to_plain()
    layers = denoising_layers(model)
    if not layers:
        raise ValueError('model has no denoising layers to fuse')
    _thaw_frozen_by_phase(model)
    for owner in list(model.modules()):
        reader = attached_reader(owner)
        if reader is not None:
            reader.fuse(owner, reader.converted(owner))
            detach_reader(owner)
    _swap_modules(model, {id(layer): layer.to_plain() for _, layer in denoising_layers(model)})
    return model


def denoiser_report(model: nn.Module) -> str:
    """A table of the denoising layers: name, type, step t, weight shape, c3, c1, phase."""
    rows = [(name, type(layer).__name__, str(layer.step), 'x'.join(map(str, layer.weight.shape)),
             f'{layer.coefficients[0]:.6f}', f'{layer.coefficients[1]:.6f}', layer.phase)
            for name, layer in sorted(denoising_layers(model), key=lambda item: -item[1].step)]
    header = ('layer', 'type', 'step', 'weight', 'c3', 'c1', 'phase')
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(len(header))]
    lines = ['  '.join(cell.ljust(width) for cell, width in zip(row, widths)) for row in [header] + rows]
    lines.insert(1, '  '.join('-' * width for width in widths))
    return '\n'.join(lines)
