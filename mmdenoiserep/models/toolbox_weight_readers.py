"""OpenMMLab modules that apply a child layer's weight themselves instead of calling the layer.

Added to the project's table of weight readers (`mmdenoiserep.core.register_weight_reader`), so that
DenoiseRepBackbone converts those layers too (see `mmdenoiserep.core.weight_readers`):

- mmpretrain's ``WindowMSAV2`` (SwinV2): ``F.linear(x, self.qkv.weight, qkv_bias)`` on its input ``x``;
  qkv is bias-free (its bias is built from q_bias and v_bias), so its denoiser is too, and q_bias/v_bias
  stay as they are.
"""
from ..core import ArgumentReader, WeightRead, register_weight_reader

__all__ = []

try:
    from mmpretrain.models.utils.attention import WindowMSAV2
except ImportError:  # mmpretrain is optional for the wrapper
    pass
else:
    register_weight_reader(WindowMSAV2, ArgumentReader({'qkv': WeightRead(inputs=((0, 'x'),))}))
