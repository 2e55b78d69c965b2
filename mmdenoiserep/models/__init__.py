"""Models registered in ``mmdenoiserep.registry.MODELS``: the backbone wrapper, VMamba, the re-id head and loss."""
from . import toolbox_weight_readers  # noqa: F401  (adds the owners that read a layer's weight)
from .backbone import (DEFAULT_EXCLUDE, LAYER_TYPES, build_denoiserep_backbone, is_denoiserep_backbone,
                       strip_denoiserep)
from .losses import TripletLoss, batch_hard_triplet_loss, euclidean_distance
from .reid import BNNeckHead
from .vmamba import VMamba

__all__ = ['DEFAULT_EXCLUDE', 'LAYER_TYPES', 'build_denoiserep_backbone', 'is_denoiserep_backbone',
           'strip_denoiserep', 'BNNeckHead', 'TripletLoss', 'batch_hard_triplet_loss', 'euclidean_distance',
           'VMamba']
