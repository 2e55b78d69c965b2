"""Datasets (imported by the DATASETS registry on first use: this module imports mmpretrain)."""
from .tiny_cifar import TinyCIFAR10

__all__ = ['TinyCIFAR10']
