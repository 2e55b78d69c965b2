"""Datasets and samplers (imported by the DATASETS and DATA_SAMPLERS registries on first use)."""
from .reid import CUHK03, MSMT17, DukeMTMCReID, Market1501, ReIDDataset, VehicleID
from .samplers import IdentityBatchSampler
from .tiny_cifar import TinyCIFAR10
from .unlabeled import UnlabeledImageFolder

__all__ = ['ReIDDataset', 'Market1501', 'DukeMTMCReID', 'CUHK03', 'MSMT17', 'VehicleID', 'IdentityBatchSampler',
           'TinyCIFAR10', 'UnlabeledImageFolder']
