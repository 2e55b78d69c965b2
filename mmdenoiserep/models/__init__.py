from . import weight_readers  # noqa: F401  (registers owners that read a layer's weight)
from .backbone import DEFAULT_EXCLUDE, LAYER_TYPES, build_denoiserep_backbone, strip_denoiserep

__all__ = ['DEFAULT_EXCLUDE', 'LAYER_TYPES', 'build_denoiserep_backbone', 'strip_denoiserep']
