"""Denoise layers whose weight a module reads instead of calling the layer.

Some attention modules apply a child Linear's weight themselves, e.g. mmpretrain's SwinV2 window attention
computes ``F.linear(x, self.qkv.weight, qkv_bias)`` and never calls ``self.qkv``. Such a layer is still an
embedding layer W applied to a feature x, so it gets a denoiser like every other (method.md section 4
holds unchanged: W' = W (c3 I - c1 A), b' = b - c1 W a); only the place that applies it differs. The
*owner* module's forward is wrapped (an instance attribute, removed again by `unwrap_owner`):

1. the input each read layer's weight is applied to (a forward argument of the owner) is recorded for
   the noise-prediction loss (`DenoisingLayer.record_call`);
2. the owner's own forward runs with each read layer's ``weight``/``bias`` attribute showing the
   phase's tensors (`DenoisingLayer.phase_weights`: W, b in the denoise phase, W', b' otherwise). The
   tensors are put in the layer's instance ``__dict__`` for the call only, where attribute lookup finds
   them before ``_parameters``: the Parameters, the state_dict, the optimizer and DDP never see a change.

`WEIGHT_READERS` maps an owner type to ``{child layer name: (position, keyword)}`` of the forward argument
that the child's weight is applied to; toolbox-specific owners are registered from ``mmdenoiserep.models``.
"""
import contextlib
import types
from typing import Dict, Iterator, List, Tuple

from torch import Tensor, nn

__all__ = ['WEIGHT_READERS', 'register_weight_reader', 'read_layers', 'shown_as', 'wrap_owner', 'unwrap_owner']

#: owner type -> {name of the child layer whose weight it reads: (position, keyword) of its input argument}
WEIGHT_READERS: Dict[type, Dict[str, Tuple[int, str]]] = {}
_READS_ATTR = '_denoiserep_weight_reads'


def register_weight_reader(owner_type: type, reads: Dict[str, Tuple[int, str]]) -> None:
    """Declare that ``owner_type``'s forward applies each child layer's weight in ``reads`` to the forward
    argument at (position, keyword), instead of calling the layer."""
    WEIGHT_READERS[owner_type] = dict(reads)


def read_layers(model: nn.Module) -> Dict[str, str]:
    """{qualified name of a layer read by its owner: qualified name of the owner}, for ``model``."""
    found = {}
    for owner_name, owner in model.named_modules():
        for child in WEIGHT_READERS.get(type(owner), {}):
            found[f'{owner_name}.{child}' if owner_name else child] = owner_name
    return found


@contextlib.contextmanager
def shown_as(substitutions: List[Tuple[nn.Module, str, Tensor]]) -> Iterator[None]:
    """Make ``module.<name>`` return the given tensor for the duration of the block."""
    for module, name, tensor in substitutions:
        module.__dict__[name] = tensor
    try:
        yield
    finally:
        for module, name, _ in substitutions:
            module.__dict__.pop(name, None)


def _forward_with_read_weights(self, *args, **kwargs):
    substitutions = []
    for child, (position, keyword) in getattr(self, _READS_ATTR).items():
        layer = self.get_submodule(child)
        layer.record_call(args[position] if len(args) > position else kwargs[keyword])
        weight, bias = layer.phase_weights()
        if weight is not layer.weight:  # the denoise phase applies the Parameters themselves
            substitutions.append((layer, 'weight', weight))
            if bias is not None:
                substitutions.append((layer, 'bias', bias))
    with shown_as(substitutions):
        return type(self).forward(self, *args, **kwargs)


def wrap_owner(owner: nn.Module, children: List[str]) -> None:
    """Wrap ``owner``'s forward for its converted read layers ``children`` (see the module docstring)."""
    reads = WEIGHT_READERS[type(owner)]
    setattr(owner, _READS_ATTR, {child: reads[child] for child in children})
    owner.forward = types.MethodType(_forward_with_read_weights, owner)


def unwrap_owner(owner: nn.Module) -> None:
    """Give ``owner`` back its class's forward."""
    if hasattr(owner, _READS_ATTR):
        delattr(owner, _READS_ATTR)
        del owner.forward
