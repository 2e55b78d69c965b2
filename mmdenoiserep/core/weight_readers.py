"""Weight readers: denoise the layers whose weight a module (their *owner*) applies itself.

Some modules never call a layer but apply its weight in their own forward: mmpretrain's SwinV2 window
attention computes ``F.linear(x, self.qkv.weight, qkv_bias)``, ``nn.MultiheadAttention`` passes its packed
``in_proj_weight`` Parameter and ``out_proj.weight`` to ``F.multi_head_attention_forward``, VMamba applies
``x_proj_weight`` (K, C_out, C_in) with an einsum. Each such weight is still an embedding layer W applied to
a feature x, so it gets a denoiser like every other, and method.md section 4 holds unchanged (W' = W (c3 I -
c1 A), b' = b - c1 W a; a (K, C_out, C_in) weight fuses as K stacked (C_out, C_in) layers on the same input
channels). Only the place that applies it differs, and a `WeightReader` says how, in four operations:

1. `WeightReader.layers`: which layers an owner reads, by name, and the module that stands for each in a
   selection (the child layer; the owner itself for a weight Parameter of its own);
2. `WeightReader.convert`: the `DenoisingLayer` that stands for a read weight, put in place as the owner's
   child of that name (a child Linear/Conv2d becomes its denoising class; a Parameter of the owner becomes
   a `DenoisingReadWeight` that holds only the denoiser), so every denoiser key is
   ``<owner>.<name>.denoiser.*``;
3. `WeightReader.show` (and `WeightReader.finish`): around each forward of the owner, record the inputs
   each read weight is applied to (`DenoisingLayer.record_call`) and show the owner the phase's weights
   (`DenoisingLayer.phase_weights`: W, b in training in the denoise phase, W', b' otherwise, reused in eval
   as any layer's). A tensor is shown by putting it in the instance ``__dict__`` of the module that holds
   the attribute, where attribute lookup finds it before ``_parameters``, for that call only: Parameters,
   state_dict, optimizer and DDP never see a change;
4. `WeightReader.fuse`: give the owner back its stock form, W', b' in the stock Parameters' places, so the
   fused state_dict has the stock owner's keys.

`add_denoisers` runs (3) through a forward pre-hook and a forward hook registered on the owner (the hook
``always_call``s, so an exception inside the owner's forward leaves no tensor shown); no method is replaced.
The hooks hold their reader, so deepcopy and pickling take them along; `fuse_denoisers` removes them.
Under gradient checkpointing the recomputed forward shows the same weights and records nothing.

One table maps an owner type (exact type, as ``layer_types``) to its reader: `DEFAULT_WEIGHT_READERS`
(nn.MultiheadAttention; toolbox owners are added by ``mmdenoiserep.models`` with `register_weight_reader`).
`get_default_weight_readers` returns a copy, which ``add_denoisers(weight_readers=...)`` takes extended.
"""
import copy
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .layers import DenoisingLayer
from .schedule import StepCoefficients

__all__ = ['WeightRead', 'WeightReader', 'ArgumentReader', 'MultiheadAttentionReader', 'DenoisingReadWeight',
           'DEFAULT_WEIGHT_READERS', 'get_default_weight_readers', 'register_weight_reader', 'attach_reader',
           'attached_reader', 'detach_reader']

#: (module, attribute name, tensor shown as ``module.<name>`` during one forward of the owner)
Substitution = Tuple[nn.Module, str, Tensor]


@dataclass(frozen=True)
class WeightRead:
    """How an owner applies one weight, for `ArgumentReader`.

    ``inputs``: the (position, keyword) of each forward argument of the owner that the weight is applied to
    (distinct tensors each recorded once: self-attention's q = k = v counts once). ``weight``, ``bias``:
    the names of the owner's own Parameters (weight (..., C_out, C_in), bias (..., C_out) or None), or
    ``weight=None`` for a child Linear/Conv2d, named by the read's name, whose weight the owner applies.
    """

    inputs: Tuple[Tuple[int, str], ...]
    weight: Optional[str] = None
    bias: Optional[str] = None


class DenoisingReadWeight(DenoisingLayer, nn.Module):
    """A weight Parameter of its owner, W (..., C_out, C_in) with bias (..., C_out) or None, as a denoising
    layer on C_in channels: ``weight``/``bias`` are the owner's Parameters flattened to (N, C_in) and (N,)
    (not registered here); only the denoiser (A: C_in x C_in, a: C_in) is. The owner is kept outside
    ``_modules`` (the owner holds this layer, not the reverse)."""

    groups = 1
    _channel_dim = -1

    def __init__(self, owner: nn.Module, weight: str, bias: Optional[str], coefficients: StepCoefficients,
                 noise_loss: str = 'l1+l2'):
        nn.Module.__init__(self)
        self.__dict__['owner'] = owner
        self.weight_name, self.bias_name = weight, bias
        self._init_denoising(coefficients, noise_loss)

    def _stock(self) -> Tuple[Tensor, Optional[Tensor]]:
        """The owner's Parameters W, b (never a tensor shown in their place)."""
        params = self.owner._parameters
        return params[self.weight_name], params[self.bias_name] if self.bias_name else None

    @property
    def weight(self) -> Tensor:
        return self._stock()[0].flatten(0, -2)

    @property
    def bias(self) -> Optional[Tensor]:
        bias = self._stock()[1]
        return None if bias is None else bias.flatten()

    def _fusion_sources(self) -> Tuple[Optional[Tensor], ...]:
        """The Parameters themselves (not the flattened views, new objects per call), so that eval reuses W'."""
        return (*self._stock(), self.denoiser.weight, self.denoiser.bias)

    def shown(self, weight: Tensor, bias: Optional[Tensor]) -> List[Substitution]:
        """(W, b) of the flattened form shown as the owner's Parameters, in their shapes."""
        stock_weight, stock_bias = self._stock()
        shown = [(self.owner, self.weight_name, weight.reshape(stock_weight.shape))]
        return shown + ([] if bias is None else [(self.owner, self.bias_name, bias.reshape(stock_bias.shape))])

    def fuse_into_owner(self) -> None:
        """Write W', b' into the owner's Parameters (new Parameters, as any fusion)."""
        for owner, name, tensor in self.shown(*self.fused_weights()):
            setattr(owner, name, nn.Parameter(tensor.detach().clone(), owner._parameters[name].requires_grad))

    def extra_repr(self) -> str:
        return f'{self.weight_name}={tuple(self._stock()[0].shape)}' + super().extra_repr()


def _argument(args: tuple, kwargs: dict, position: int, keyword: str) -> Tensor:
    return args[position] if len(args) > position else kwargs[keyword]


def _record_distinct(layer: DenoisingLayer, inputs: Sequence[Tensor]) -> None:
    """Record each distinct input once (views of the same data with the same shape count once)."""
    seen = set()
    for x in inputs:
        key = (x.data_ptr(), tuple(x.shape), x.stride())
        if key not in seen:
            seen.add(key)
            layer.record_call(x)


def _shown_weights(layer: DenoisingLayer) -> List[Substitution]:
    """`DenoisingLayer.phase_weights` in the places of W, b (the stock W, b themselves in training in the
    denoise phase)."""
    weight, bias = layer.phase_weights()
    if isinstance(layer, DenoisingReadWeight):
        return layer.shown(weight, bias)
    return [(layer, 'weight', weight), (layer, 'bias', bias)]


class WeightReader:
    """How owners of one type apply some layers' weights themselves (see the module docstring).

    A subclass implements `layers` and `show`; `convert`, `finish` and `fuse` have defaults for child
    Linear/Conv2d layers and `DenoisingReadWeight` layers.
    """

    def layers(self, owner: nn.Module) -> Dict[str, nn.Module]:
        """{name of each layer ``owner`` reads, relative to it: the module that stands for it in a selection
        (the child layer; ``owner`` for a weight Parameter of its own)}."""
        raise NotImplementedError

    def convert(self, owner: nn.Module, name: str, coefficients: StepCoefficients,
                noise_loss: str) -> DenoisingLayer:
        """Put the denoising layer for read layer ``name`` in place as ``owner.<name>``; returns it. By default
        ``name`` is a child Linear/Conv2d, converted to its denoising class (its Parameters reused)."""
        from .convert import _denoising_class  # convert.py imports this module
        layer = owner.get_submodule(name)
        new = _denoising_class(type(layer)).from_plain(layer, coefficients, noise_loss)
        parent, _, child = name.rpartition('.')
        setattr(owner.get_submodule(parent), child, new)
        return new

    def converted(self, owner: nn.Module) -> Dict[str, DenoisingLayer]:
        """{name: the denoising layer} of the read layers of ``owner`` that are converted."""
        found = {}
        for name in self.layers(owner):
            try:
                layer = owner.get_submodule(name)
            except AttributeError:
                continue
            if isinstance(layer, DenoisingLayer):
                found[name] = layer
        return found

    def show(self, owner: nn.Module, layers: Dict[str, DenoisingLayer], args: tuple,
             kwargs: dict) -> List[Substitution]:
        """Before a forward of ``owner`` on ``args``, ``kwargs``: record the inputs of the converted
        ``layers`` and return the tensors to show in place of their weights for this forward."""
        raise NotImplementedError

    def finish(self, layers: Dict[str, DenoisingLayer], output):
        """After the forward (the shown tensors removed): the owner's output (by default ``output``)."""
        return output

    def fuse(self, owner: nn.Module, layers: Dict[str, DenoisingLayer]) -> None:
        """Give ``owner`` its stock form with W', b' in place of each converted read layer."""
        for name, layer in layers.items():
            parent, _, child = name.rpartition('.')
            if isinstance(layer, DenoisingReadWeight):
                layer.fuse_into_owner()
                delattr(owner.get_submodule(parent), child)
            else:
                setattr(owner.get_submodule(parent), child, layer.to_plain())


class ArgumentReader(WeightReader):
    """An owner that applies each read weight to forward arguments of its own: ``reads`` maps the name of
    each read layer to its `WeightRead` (e.g. SwinV2's ``{'qkv': WeightRead(((0, 'x'),))}``)."""

    def __init__(self, reads: Dict[str, WeightRead]):
        self.reads = dict(reads)

    def layers(self, owner: nn.Module) -> Dict[str, nn.Module]:
        return {name: owner if read.weight else owner.get_submodule(name) for name, read in self.reads.items()}

    def convert(self, owner: nn.Module, name: str, coefficients: StepCoefficients,
                noise_loss: str) -> DenoisingLayer:
        read = self.reads.get(name)
        if read is None or read.weight is None:  # a child layer
            return super().convert(owner, name, coefficients, noise_loss)
        layer = DenoisingReadWeight(owner, read.weight, read.bias, coefficients, noise_loss)
        setattr(owner, name, layer)
        return layer

    def show(self, owner: nn.Module, layers: Dict[str, DenoisingLayer], args: tuple,
             kwargs: dict) -> List[Substitution]:
        return [shown for name, layer in layers.items() for shown in self._show_read(name, layer, args, kwargs)]

    def _show_read(self, name: str, layer: DenoisingLayer, args: tuple, kwargs: dict) -> List[Substitution]:
        """Record the inputs of read layer ``name`` and return what the owner is shown for it."""
        _record_distinct(layer, [_argument(args, kwargs, *spec) for spec in self.reads[name].inputs])
        return _shown_weights(layer)


class MultiheadAttentionReader(ArgumentReader):
    """``nn.MultiheadAttention``: ``in_proj`` is its packed projection (``in_proj_weight`` (3E, E),
    ``in_proj_bias``), applied to query, key and value (one denoiser for the E input channels fuses
    exactly for all three; its loss counts each distinct input); ``out_proj`` is its child Linear, applied
    to the heads' concatenated output. In training out_proj is shown as the identity, so the attention
    returns that output, and then called on it (exact: out_proj is linear and applied last), which records
    its input; in eval it is shown as (W', b'), as the fused attention computes. An attention with separate
    q/k/v weights (kdim or vdim != embed_dim) reads out_proj only."""

    reads = {'in_proj': WeightRead(((0, 'query'), (1, 'key'), (2, 'value')), 'in_proj_weight', 'in_proj_bias')}

    def __init__(self):  # ``reads`` is the class's
        pass

    def layers(self, owner: nn.Module) -> Dict[str, nn.Module]:
        packed = {'in_proj': owner} if owner.in_proj_weight is not None else {}
        return {**packed, 'out_proj': owner.out_proj}

    def show(self, owner: nn.Module, layers: Dict[str, DenoisingLayer], args: tuple,
             kwargs: dict) -> List[Substitution]:
        in_proj, out_proj = layers.get('in_proj'), layers.get('out_proj')
        shown = [] if in_proj is None else self._show_read('in_proj', in_proj, args, kwargs)
        if out_proj is None:
            return shown
        if not out_proj.training:
            return shown + _shown_weights(out_proj)
        eye = torch.eye(owner.embed_dim, dtype=out_proj.weight.dtype, device=out_proj.weight.device)
        shown.append((out_proj, 'weight', eye))
        return shown + ([] if out_proj.bias is None else [(out_proj, 'bias', torch.zeros_like(out_proj.bias))])

    def finish(self, layers: Dict[str, DenoisingLayer], output):
        out_proj = layers.get('out_proj')
        if out_proj is None or not out_proj.training:
            return output
        return (out_proj(output[0]), *output[1:])


#: owner type -> its reader: the project's table (mmdenoiserep.models adds the toolbox owners)
DEFAULT_WEIGHT_READERS: Dict[type, WeightReader] = {nn.MultiheadAttention: MultiheadAttentionReader()}


def get_default_weight_readers() -> Dict[type, WeightReader]:
    """A copy of the project's table {owner type: reader}, to extend and pass to ``add_denoisers``."""
    return copy.deepcopy(DEFAULT_WEIGHT_READERS)


def register_weight_reader(owner_type: type, reader: WeightReader) -> None:
    """Add ``owner_type`` (exact type) with its reader to the project's table."""
    if not isinstance(reader, WeightReader):
        raise TypeError(f'reader must be a WeightReader, got {type(reader).__name__}')
    DEFAULT_WEIGHT_READERS[owner_type] = reader


class _ReaderHooks:
    """The forward pre-hook and forward hook that run an owner's forward through its reader."""

    def __init__(self, reader: WeightReader):
        self.reader = reader
        self.shown: List[List[Substitution]] = []  # one entry per forward of the owner in progress

    def before(self, owner: nn.Module, args: tuple, kwargs: dict) -> None:
        shown: List[Substitution] = []
        self.shown.append(shown)  # first: the forward hook pops it whatever happens next
        shown += self.reader.show(owner, self.reader.converted(owner), args, kwargs)
        for module, name, tensor in shown:
            module.__dict__[name] = tensor

    def after(self, owner: nn.Module, args: tuple, kwargs: dict, output):
        # empty when a pre-hook that runs before `before` raised
        for module, name, _ in self.shown.pop() if self.shown else ():
            del module.__dict__[name]
        if output is None:  # the forward raised (or returned nothing)
            return None
        return self.reader.finish(self.reader.converted(owner), output)


def attach_reader(owner: nn.Module, reader: WeightReader) -> None:
    """Run ``owner``'s forward through ``reader`` (its converted layers) from now on."""
    hooks = _ReaderHooks(reader)
    owner.register_forward_pre_hook(hooks.before, with_kwargs=True)
    owner.register_forward_hook(hooks.after, with_kwargs=True, always_call=True, prepend=True)


def _reader_hook_ids(hooks: dict) -> List[int]:
    return [hook_id for hook_id, hook in hooks.items() if isinstance(getattr(hook, '__self__', None), _ReaderHooks)]


def attached_reader(owner: nn.Module) -> Optional[WeightReader]:
    """The reader `attach_reader` gave ``owner`` (None if none)."""
    ids = _reader_hook_ids(owner._forward_pre_hooks)
    return owner._forward_pre_hooks[ids[0]].__self__.reader if ids else None


def detach_reader(owner: nn.Module) -> None:
    """Remove the hooks of `attach_reader` from ``owner``."""
    for hooks, extras in ((owner._forward_pre_hooks, (owner._forward_pre_hooks_with_kwargs,)),
                          (owner._forward_hooks, (owner._forward_hooks_with_kwargs,
                                                  owner._forward_hooks_always_called))):
        for hook_id in _reader_hook_ids(hooks):
            del hooks[hook_id]
            for extra in extras:
                del extra[hook_id]
