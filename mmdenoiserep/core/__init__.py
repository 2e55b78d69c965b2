"""The pure-PyTorch core of DenoiseRep: layers, fusion math, schedule and the convert API (no mm*)."""
from .convert import (DEFAULT_MAPPING, add_denoisers, convertible_layers, denoise_loss, denoiser_parameters,
                      denoiser_report, denoising_layers, discard_recorded_calls, freeze_running_stats,
                      fuse_denoisers, fused_weights_cached, keeps_running_stats, selected_layers, set_phase)
from .fusion import fuse_denoiser_weights
from .layers import (NOISE_LOSSES, PHASES, AffineDenoiser, DenoisingConv2d, DenoisingLayer,
                     DenoisingLinear)
from .phases import backbone_only, backbone_only_blocker, enter_phase, is_backbone_only, set_backbone_only
from .schedule import StepCoefficients, step_coefficients
from .weight_readers import (DEFAULT_WEIGHT_READERS, ArgumentReader, DenoisingReadWeight, MultiheadAttentionReader,
                             WeightRead, WeightReader, get_default_weight_readers, register_weight_reader)

__all__ = [
    'DEFAULT_MAPPING', 'add_denoisers', 'convertible_layers', 'denoise_loss', 'denoiser_parameters', 'denoiser_report',
    'denoising_layers', 'discard_recorded_calls', 'freeze_running_stats', 'fuse_denoisers', 'fused_weights_cached',
    'keeps_running_stats', 'selected_layers', 'set_phase', 'fuse_denoiser_weights', 'NOISE_LOSSES', 'PHASES',
    'AffineDenoiser', 'DenoisingConv2d', 'DenoisingLayer', 'DenoisingLinear', 'StepCoefficients',
    'step_coefficients', 'DEFAULT_WEIGHT_READERS', 'ArgumentReader', 'DenoisingReadWeight', 'MultiheadAttentionReader',
    'WeightRead', 'WeightReader', 'get_default_weight_readers', 'register_weight_reader', 'backbone_only',
    'backbone_only_blocker', 'enter_phase', 'is_backbone_only', 'set_backbone_only'
]
