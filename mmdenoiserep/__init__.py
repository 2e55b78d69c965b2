"""mmdenoiserep: DenoiseRep (NeurIPS 2024) for OpenMMLab backbones; see README.md.

The public API is the pure-PyTorch core (`mmdenoiserep.core`); the OpenMMLab parts (registry nodes,
backbone wrapper, hook, tools support) live in their own modules and are imported on demand.
"""
from .core import (add_denoisers, denoise_loss, denoiser_parameters, denoiser_report, denoising_layers,
                   fuse_denoisers, fused_weights_cached, set_phase)
from .version import __version__

try:  # let mmengine resolve `_base_ = 'mmdenoiserep::denoiserep/<config>.py'` as it does 'mmdet::...'
    from mmengine.config.utils import MODULE2PACKAGE
    MODULE2PACKAGE.setdefault('mmdenoiserep', 'mmdenoiserep')
except ImportError:  # the core works without mmengine
    pass

__all__ = ['add_denoisers', 'denoise_loss', 'denoiser_parameters', 'denoiser_report', 'denoising_layers',
           'fuse_denoisers', 'fused_weights_cached', 'set_phase', '__version__']
