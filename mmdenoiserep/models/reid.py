"""``mmdenoiserep.BNNeckHead`` and ``mmdenoiserep.JPMHead``: the re-id heads of TransReID(-SSL) for mmpretrain's
``ImageClassifier`` (or `mmdenoiserep.ReIDClassifier`).

BNNeck (Luo et al., "Bag of Tricks and A Strong Baseline for Deep Person Re-identification", 2019):

    f = backbone feature (B, C)  ->  g = BatchNorm1d(f) (bias frozen at 0)  ->  logits = W g (no bias)

Training: ``loss_cls`` = cross-entropy of the logits with label smoothing, ``loss_triplet`` = batch-hard
triplet loss on f (before the norm, as TransReID); test: the re-id feature is g (``test_feature='after_bn'``)
or f (``'before_bn'``, TransReID-SSL's yml), set as the prediction's ``pred_feature`` for ``ReIDMetric``.

JPMHead (TransReID, damo-cv/TransReID ``model/make_model.py`` ``build_transformer_local``, ``loss/make_loss.py``):
the backbone gives the global feature f_0 and K local features f_1 .. f_K (`mmdenoiserep.TransReIDViT` with
``jpm``, (B, 1 + K, C)); each has its own BNNeck and classifier. Training: ``loss_cls`` = w_id (CE_0 / 2 +
mean_k CE_k / 2), ``loss_triplet`` = w_tri (T_0 / 2 + mean_k T_k / 2), CE_k the cross-entropy of the logits of
f_k, T_k the triplet loss of f_k; test: [f_0, f_1 / K, ..., f_K / K] (``'before_bn'``) or the same of the
normed features (``'after_bn'``), K C channels (TransReID divides by 4, its K).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from ..registry import MODELS
from ..utils import InputError
from .losses import batch_hard_triplet_loss

__all__ = ['BNNeckHead', 'JPMHead', 'bnneck', 'id_classifier']


def bnneck(channels: int) -> nn.BatchNorm1d:
    """BNNeck's norm: BatchNorm1d (weight 1, bias 0) whose bias is frozen."""
    norm = nn.BatchNorm1d(channels)
    norm.bias.requires_grad_(False)
    return norm


def id_classifier(channels: int, num_classes: int) -> nn.Linear:
    """The identity classifier: bias-free Linear, weights N(0, 0.001^2) (TransReID's weights_init_classifier)."""
    classifier = nn.Linear(channels, num_classes, bias=False)
    nn.init.normal_(classifier.weight, std=0.001)
    return classifier


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
        self.bottleneck = bnneck(in_channels)
        self.classifier = id_classifier(in_channels, num_classes)

    @staticmethod
    def pre_logits(feats: Union[torch.Tensor, Tuple[torch.Tensor, ...]]) -> torch.Tensor:
        """f: the last backbone output (B, C)."""
        return feats[-1] if isinstance(feats, (tuple, list)) else feats

    def forward(self, feats) -> torch.Tensor:
        """The test feature (B, C) (``mode='tensor'``)."""
        feature = self.pre_logits(feats)
        return self.bottleneck(feature) if self.test_feature == 'after_bn' else feature

    def id_and_triplet(self, feature: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor):
        """(cross-entropy of the logits, triplet loss of the feature before the norm), unweighted."""
        return (F.cross_entropy(logits, labels, label_smoothing=self.label_smooth),
                batch_hard_triplet_loss(feature, labels, self.triplet_margin))

    def loss(self, feats, data_samples: List) -> dict:
        feature = self.pre_logits(feats)
        labels = torch.cat([sample.gt_label for sample in data_samples]).to(feature.device)
        cross_entropy, triplet = self.id_and_triplet(feature, self.classifier(self.bottleneck(feature)), labels)
        return dict(loss_cls=self.loss_weights[0] * cross_entropy, loss_triplet=self.loss_weights[1] * triplet)

    def predict(self, feats, data_samples: Optional[List] = None) -> List:
        """Data samples with ``pred_feature`` (C,) set (new DataSamples when none are given)."""
        features = self.forward(feats)
        if data_samples is None:
            from mmpretrain.structures import DataSample
            data_samples = [DataSample() for _ in range(features.shape[0])]
        for sample, feature in zip(data_samples, features):
            sample.set_field(feature, 'pred_feature', field_type='data')
        return data_samples


@MODELS.register_module()
class JPMHead(BNNeckHead):
    """BNNeck heads on the global feature (``bottleneck``, ``classifier``) and on each of the K local features of
    TransReID's JPM (``local_bottlenecks.k``, ``local_classifiers.k``); see the module docstring.

    Args:
        num_local: K, the local features after the global one in the backbone's (B, 1 + K, C) output.
        in_channels, num_classes, label_smooth, triplet_margin, loss_weights, test_feature: as BNNeckHead's.
    """

    def __init__(self, in_channels: int, num_classes: int, num_local: int = 4, **kwargs):
        super().__init__(in_channels, num_classes, **kwargs)
        self.num_local = num_local
        self.local_bottlenecks = nn.ModuleList(bnneck(in_channels) for _ in range(num_local))
        self.local_classifiers = nn.ModuleList(id_classifier(in_channels, num_classes) for _ in range(num_local))

    def split(self, feats) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """(f_0 (B, C), [f_1 .. f_K]) of the last backbone output (B, 1 + K, C)."""
        features = self.pre_logits(feats)
        if features.dim() != 3 or features.shape[1] != 1 + self.num_local:
            raise InputError(f'JPMHead: expects (B, 1 + {self.num_local}, C) features (TransReIDViT with jpm), '
                             f'got {tuple(features.shape)}')
        return features[:, 0], list(features[:, 1:].unbind(1))

    def forward(self, feats) -> torch.Tensor:
        """The test feature (B, (1 + K) C): [f_0, f_1 / K, ..., f_K / K], after the norms for 'after_bn'."""
        global_feature, local_features = self.split(feats)
        if self.test_feature == 'after_bn':
            global_feature = self.bottleneck(global_feature)
            local_features = [norm(f) for norm, f in zip(self.local_bottlenecks, local_features)]
        return torch.cat([global_feature] + [f / self.num_local for f in local_features], dim=1)

    def loss(self, feats, data_samples: List) -> dict:
        global_feature, local_features = self.split(feats)
        labels = torch.cat([sample.gt_label for sample in data_samples]).to(global_feature.device)
        global_ce, global_triplet = self.id_and_triplet(
            global_feature, self.classifier(self.bottleneck(global_feature)), labels)
        local = [self.id_and_triplet(f, classifier(norm(f)), labels)
                 for f, norm, classifier in zip(local_features, self.local_bottlenecks, self.local_classifiers)]
        local_ce = sum(ce for ce, _ in local) / len(local)
        local_triplet = sum(triplet for _, triplet in local) / len(local)
        return dict(loss_cls=self.loss_weights[0] * (0.5 * local_ce + 0.5 * global_ce),
                    loss_triplet=self.loss_weights[1] * (0.5 * local_triplet + 0.5 * global_triplet))
