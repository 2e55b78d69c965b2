"""Models registered in ``mmdenoiserep.registry.MODELS``: the backbone wrapper, VMamba, TransReID's ViT, the re-id
classifier, heads and loss."""
from . import toolbox_weight_readers  # noqa: F401  (adds the owners that read a layer's weight)
from .backbone import (DEFAULT_EXCLUDE, LAYER_TYPES, build_denoiserep_backbone, is_denoiserep_backbone,
                       strip_denoiserep)
from .clip import CLIPImageEncoder, CLIPTextEncoder
from .clip_reid import CLIPReID, PromptLearner
from .losses import TripletLoss, batch_hard_triplet_loss, euclidean_distance
from .ics_stem import IBN, ICSPatchEmbed
from .post_backbone import PostBackboneDenoiser
from .reid import BNNeckHead, JPMHead
from .reid_classifier import ReIDClassifier
from .transreid import TransReIDViT
from .vmamba import VMamba

__all__ = ['DEFAULT_EXCLUDE', 'LAYER_TYPES', 'build_denoiserep_backbone', 'is_denoiserep_backbone',
           'strip_denoiserep', 'BNNeckHead', 'TripletLoss', 'batch_hard_triplet_loss', 'euclidean_distance',
           'VMamba', 'PostBackboneDenoiser', 'IBN', 'ICSPatchEmbed', 'JPMHead', 'ReIDClassifier', 'TransReIDViT',
           'CLIPImageEncoder', 'CLIPTextEncoder', 'CLIPReID', 'PromptLearner']
