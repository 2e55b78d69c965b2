"""``mmdenoiserep.BNNeckHead``: the BNNeck re-id head of TransReID(-SSL) for mmpretrain's ``ImageClassifier``.

BNNeck (Luo et al., "Bag of Tricks and A Strong Baseline for Deep Person Re-identification", 2019):

    f = backbone feature (B, C)  ->  g = BatchNorm1d(f) (bias frozen at 0)  ->  logits = W g (no bias)

Training: ``loss_cls`` = cross-entropy of the logits with label smoothing, ``loss_triplet`` = batch-hard
triplet loss on f (before the norm, as TransReID); test: the re-id feature is g (``test_feature='after_bn'``)
or f (``'before_bn'``, TransReID-SSL's yml), set as the prediction's ``pred_feature`` for ``ReIDMetric``.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from ..registry import MODELS
from ..utils import InputError
from .losses import batch_hard_triplet_loss

__all__ = ['BNNeckHead']


@MODELS.register_module()
class BNNeckHead(BaseModule):
    """BNNeck head: BatchNorm1d (bias frozen) and a bias-free classifier (init N(0, 0.001^2)).

    Args:
        in_channels: C, the backbone feature's channels (the last of the backbone's outputs is used).
        num_classes: training identities.
        label_smooth: epsilon of the cross-entropy's label smoothing (targets (1 - eps) one-hot + eps / N).
        triplet_margin: margin of the batch-hard triplet loss; None: soft margin.
        loss_weights: (cross-entropy, triplet) weights.
        test_feature: 'after_bn' (g) or 'before_bn' (f) is the re-id feature at test time.
    """

    TEST_FEATURES = ('after_bn', 'before_bn')

    def __init__(self, in_channels: int, num_classes: int, label_smooth: float = 0.1,
                 triplet_margin: Optional[float] = None, loss_weights: Sequence[float] = (1.0, 1.0),
                 test_feature: str = 'after_bn', init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if test_feature not in self.TEST_FEATURES:
            raise InputError(f'BNNeckHead: test_feature must be one of {self.TEST_FEATURES}, got {test_feature!r}')
        if len(loss_weights) != 2:
            raise InputError(f'BNNeckHead: loss_weights must be (cross-entropy, triplet), got {loss_weights!r}')
        self.label_smooth, self.triplet_margin = label_smooth, triplet_margin
        self.loss_weights, self.test_feature = tuple(loss_weights), test_feature
        self.bottleneck = nn.BatchNorm1d(in_channels)
        self.bottleneck.bias.requires_grad_(False)
        self.classifier = nn.Linear(in_channels, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)

    @staticmethod
    def pre_logits(feats: Union[torch.Tensor, Tuple[torch.Tensor, ...]]) -> torch.Tensor:
        """f: the last backbone output (B, C)."""
        return feats[-1] if isinstance(feats, (tuple, list)) else feats

    def forward(self, feats) -> torch.Tensor:
        """The test feature (B, C) (``mode='tensor'``)."""
        feature = self.pre_logits(feats)
        return self.bottleneck(feature) if self.test_feature == 'after_bn' else feature

    def loss(self, feats, data_samples: List) -> dict:
        feature = self.pre_logits(feats)
        labels = torch.cat([sample.gt_label for sample in data_samples]).to(feature.device)
        logits = self.classifier(self.bottleneck(feature))
        return dict(
            loss_cls=self.loss_weights[0] * F.cross_entropy(logits, labels, label_smoothing=self.label_smooth),
            loss_triplet=self.loss_weights[1] * batch_hard_triplet_loss(feature, labels, self.triplet_margin))

    def predict(self, feats, data_samples: Optional[List] = None) -> List:
        """Data samples with ``pred_feature`` (C,) set (new DataSamples when none are given)."""
        features = self.forward(feats)
        if data_samples is None:
            from mmpretrain.structures import DataSample
            data_samples = [DataSample() for _ in range(features.shape[0])]
        for sample, feature in zip(data_samples, features):
            sample.set_field(feature, 'pred_feature', field_type='data')
        return data_samples
