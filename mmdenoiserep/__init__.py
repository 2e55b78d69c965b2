"""mmdenoiserep: DenoiseRep (NeurIPS 2024) for OpenMMLab backbones; see README.md."""
from .core import (add_denoisers, denoise_loss, denoiser_parameters, denoiser_report, denoising_layers,
                   fuse_denoisers, set_phase)
from .version import __version__

__all__ = ['add_denoisers', 'denoise_loss', 'denoiser_parameters', 'denoiser_report', 'denoising_layers',
           'fuse_denoisers', 'set_phase', '__version__']
