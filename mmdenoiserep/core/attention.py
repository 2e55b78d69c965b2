"""Denoise the projections of ``nn.MultiheadAttention``, which reads its weights instead of calling layers.

nn.MultiheadAttention (used by mmseg's MiT through mmcv) owns its packed input projection as Parameters
(``in_proj_weight`` (3E, E), ``in_proj_bias`` (3E,)) and passes them and ``out_proj.weight``/``.bias`` to
``F.multi_head_attention_forward``. Both are embedding layers; implementation choices:

- in_proj becomes `DenoisingInProjection`, a child ``in_proj`` of the attention holding one predictor
  (A: E x E, a: E) for the E input channels. The same projection applies to the query, key and value
  inputs, so W' = W (c3 I - c1 A), b' = b - c1 W a fuses exactly for all three (method.md section 4), and
  its noise-prediction loss sums over its distinct inputs (self-attention: one; MiT: query and the
  spatially reduced key/value). Keys: ``<attn>.in_proj.denoiser.*``; the stock keys are untouched.
- out_proj becomes a `DenoisingLinear` called on the attention output: in training the wrapped forward runs
  the stock attention with out_proj shown as the identity (so it returns the heads' concatenated output,
  the input the loss needs) and then calls out_proj on it, which is exact since out_proj is linear and
  applied last; in eval it shows out_proj as (W', b') (cached like any layer's), which costs what the
  fused attention costs (MiT-b0's cached eval: 1.063x -> 1.043x the baseline's time).
- Fusion writes W', b' into ``in_proj_weight``/``in_proj_bias`` (new Parameters, as any fusion), turns
  out_proj back into its stock class and restores the attention's own forward.
Attention with separate q/k/v weights (kdim or vdim != embed_dim) is not converted.
"""
import types
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .layers import DenoisingLayer
from .schedule import StepCoefficients
from .weight_reads import shown_as

__all__ = ['DenoisingInProjection', 'convertible_attention', 'wrap_attention', 'unwrap_attention']


def convertible_attention(module: nn.Module) -> bool:
    """An nn.MultiheadAttention with a packed input projection."""
    return isinstance(module, nn.MultiheadAttention) and module.in_proj_weight is not None


class DenoisingInProjection(DenoisingLayer, nn.Module):
    """The packed q/k/v input projection of an nn.MultiheadAttention as a denoising layer.

    ``weight`` (3E, E) and ``bias`` (3E,) are the attention's own Parameters, not registered here; only the
    predictor (E channels) is.
    """

    groups = 1
    _channel_dim = -1

    def __init__(self, attention: nn.MultiheadAttention, coefficients: StepCoefficients,
                 noise_loss: str = 'l1+l2'):
        nn.Module.__init__(self)
        self.__dict__['attention'] = attention  # not a submodule: the attention owns this layer
        self._init_denoising(coefficients, noise_loss)

    @property
    def weight(self) -> Tensor:
        return self.attention.in_proj_weight

    @property
    def bias(self) -> Optional[Tensor]:
        return self.attention.in_proj_bias

    def record_inputs(self, *inputs: Tensor) -> None:
        """Record each distinct input (views of the same data, e.g. q = k = v, count once)."""
        seen = set()
        for x in inputs:
            key = (x.data_ptr(), tuple(x.shape), x.stride())
            if key not in seen:
                seen.add(key)
                self.record_call(x)

    def fuse_into_attention(self) -> None:
        """Write W', b' into the attention's in_proj Parameters and remove this layer."""
        weight, bias = self.fused_weights()
        attention = self.attention
        attention.in_proj_weight = nn.Parameter(weight.detach().clone(), attention.in_proj_weight.requires_grad)
        if bias is not None:
            attention.in_proj_bias = nn.Parameter(bias.detach().clone(), attention.in_proj_bias.requires_grad)
        del attention.in_proj

    def extra_repr(self) -> str:
        return f'in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}' + super().extra_repr()


def _attention_forward(self, query: Tensor, key: Tensor, value: Tensor, *args, **kwargs) -> Tuple:
    substitutions = []
    in_proj = getattr(self, 'in_proj', None)
    if isinstance(in_proj, DenoisingInProjection):
        in_proj.record_inputs(query, key, value)
        weight, bias = in_proj.phase_weights()
        substitutions = [(self, 'in_proj_weight', weight), (self, 'in_proj_bias', bias)]
    out_proj = self.out_proj if isinstance(self.out_proj, DenoisingLayer) else None
    if out_proj is not None and not out_proj.training:  # eval: out_proj shown as (W', b'), as in the fused model
        weight, bias = out_proj.phase_weights()
        substitutions += [(out_proj, 'weight', weight), (out_proj, 'bias', bias)]  # b' None: no bias
        out_proj = None
    elif out_proj is not None:  # training: the loss needs out_proj's input, so out_proj runs after
        eye = torch.eye(self.embed_dim, dtype=out_proj.weight.dtype, device=out_proj.weight.device)
        substitutions.append((out_proj, 'weight', eye))
        if out_proj.bias is not None:
            substitutions.append((out_proj, 'bias', torch.zeros_like(out_proj.bias)))
    with shown_as(substitutions):
        output, attention_weights = type(self).forward(self, query, key, value, *args, **kwargs)
    return (output if out_proj is None else out_proj(output)), attention_weights


def wrap_attention(attention: nn.MultiheadAttention) -> None:
    """Run ``attention`` through its denoising layers (see the module docstring)."""
    attention.forward = types.MethodType(_attention_forward, attention)


def unwrap_attention(attention: nn.MultiheadAttention) -> None:
    """Fuse the in_proj layer into the attention's Parameters and give it back its class's forward."""
    if isinstance(getattr(attention, 'in_proj', None), DenoisingInProjection):
        attention.in_proj.fuse_into_attention()
    attention.__dict__.pop('forward', None)
