"""``mmdenoiserep.TinyCIFAR10``: mmpretrain's CIFAR10 on the tiny set that `mmdenoiserep.testing.tiny_data` makes.

mmpretrain's CIFAR10 checks the md5 sums of the real batch files and downloads the real set when they
differ, so no tiny set passes it. This class is the same dataset without those sums, which CIFAR10's
own ``_check_integrity`` handles by checking that the files exist. ``--tiny`` swaps it in (tiny.py).
"""
from mmpretrain.datasets import CIFAR10

from ..registry import DATASETS

__all__ = ['TinyCIFAR10']


@DATASETS.register_module()
class TinyCIFAR10(CIFAR10):
    """CIFAR10 reading the tiny set: the real file names, no md5 sums (the tiny build is atomic)."""

    train_list = [[file, None] for file, _ in CIFAR10.train_list]
    test_list = [[file, None] for file, _ in CIFAR10.test_list]
    meta = dict(CIFAR10.meta, md5=None)
