"""OpenMMLab modules that apply a child layer's weight themselves instead of calling the layer.

Added to the project's table of weight readers (`mmdenoiserep.core.register_weight_reader`), so that
DenoiseRepBackbone converts those layers too (see `mmdenoiserep.core.weight_readers`):

- mmpretrain's ``WindowMSAV2`` (SwinV2): ``F.linear(x, self.qkv.weight, qkv_bias)`` on its input ``x``;
  qkv is bias-free (its bias is built from q_bias and v_bias), so its denoiser is too, and q_bias/v_bias
  stay as they are.
- VMamba's `ScanProjection` (``mmdenoiserep.VMamba``, SS2D's x_proj and dt_projs): ``einsum(x, W_k)`` over the
  K scan directions of its input ``x`` (B, K, L, C_in) with the weight of its child ``linear`` (K C_out, C_in),
  K stacked layers on the same C_in channels: one denoiser, W'_k = W_k (c3 I - c1 A) for every k. Bias-free
  (dt_projs_bias is the scan's delta bias, as SwinV2's q_bias/v_bias).

mmpretrain is a requirement of the package (VMamba is an mmpretrain backbone).
"""
from mmpretrain.models.utils.attention import WindowMSAV2

from ..core import ArgumentReader, WeightRead, register_weight_reader
from .vmamba import ScanProjection

__all__ = []

register_weight_reader(WindowMSAV2, ArgumentReader({'qkv': WeightRead(inputs=((0, 'x'),))}))
register_weight_reader(ScanProjection, ArgumentReader({'linear': WeightRead(inputs=((0, 'x'),))}))
