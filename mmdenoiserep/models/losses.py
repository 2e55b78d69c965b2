"""Losses of the re-id head: ``batch_hard_triplet_loss`` and its module ``mmdenoiserep.TripletLoss``."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import MODELS

__all__ = ['euclidean_distance', 'batch_hard_triplet_loss', 'TripletLoss']


def euclidean_distance(features: torch.Tensor) -> torch.Tensor:
    """(B, B) Euclidean distances of (B, C) features, sqrt(max(|x|^2 + |y|^2 - 2 x.y, 1e-12)) (a finite
    gradient at distance 0)."""
    squared = (features ** 2).sum(1)
    return (squared[:, None] + squared[None] - 2 * features @ features.T).clamp(min=1e-12).sqrt()


def batch_hard_triplet_loss(features: torch.Tensor, labels: torch.Tensor,
                            margin: Optional[float] = None) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans et al., 2017) of (B, C) features with (B,) identity labels.

    For each anchor i: d_p = max distance to a sample of its identity (itself included, distance ~0),
    d_n = min distance to a sample of another identity; the loss is the mean over anchors of
    ``max(0, d_p - d_n + margin)``, or of the soft margin ``log(1 + exp(d_p - d_n))`` when margin is None.
    Anchors without a sample of another identity are left out (a batch of one identity gives 0).
    """
    distance = euclidean_distance(features)
    same = labels[:, None] == labels[None]
    hardest_positive = distance.masked_fill(~same, float('-inf')).amax(1)
    hardest_negative = distance.masked_fill(same, float('inf')).amin(1)
    has_negative = ~same.all(1)
    if not has_negative.any():
        return features.sum() * 0
    gap = (hardest_positive - hardest_negative)[has_negative]
    return (F.softplus(gap) if margin is None else F.relu(gap + margin)).mean()


@MODELS.register_module()
class TripletLoss(nn.Module):
    """``loss_weight * batch_hard_triplet_loss(features, labels, margin)``; margin None: soft margin."""

    def __init__(self, margin: Optional[float] = None, loss_weight: float = 1.0):
        super().__init__()
        self.margin, self.loss_weight = margin, loss_weight

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * batch_hard_triplet_loss(features, labels, self.margin)
