"""The BNNeck re-id head and the batch-hard triplet loss, against hand-written computations."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmdenoiserep.models import BNNeckHead, TripletLoss, batch_hard_triplet_loss, euclidean_distance


class Sample:
    def __init__(self, label):
        self.gt_label = torch.tensor([label])


def reference_triplet(features, labels, margin):
    """Loops over anchors: hardest positive (max distance, itself included) and negative (min distance)."""
    losses = []
    for i in range(len(labels)):
        distances = [math.dist(features[i].tolist(), features[j].tolist()) for j in range(len(labels))]
        negatives = [d for d, label in zip(distances, labels) if label != labels[i]]
        if not negatives:
            continue
        positive = max(max(d for d, label in zip(distances, labels) if label == labels[i]), 1e-6)
        gap = positive - min(negatives)
        losses.append(math.log1p(math.exp(gap)) if margin is None else max(0.0, gap + margin))
    return sum(losses) / len(losses)


@pytest.mark.parametrize('margin', [None, 0.3, 5.0])
@pytest.mark.parametrize('seed', range(3))
def test_triplet_loss_matches_reference(margin, seed):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(8, 5, generator=generator, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])[torch.randperm(8, generator=generator)]
    expected = reference_triplet(features, labels.tolist(), margin)
    assert batch_hard_triplet_loss(features, labels, margin).item() == pytest.approx(expected, rel=1e-9)
    assert TripletLoss(margin, loss_weight=0.5)(features, labels).item() == pytest.approx(0.5 * expected, rel=1e-9)


def test_triplet_loss_one_identity_is_zero_with_gradient_and_zero_distance_is_finite():
    features = torch.randn(4, 3, requires_grad=True)
    loss = batch_hard_triplet_loss(features, torch.zeros(4, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0 and torch.equal(features.grad, torch.zeros(4, 3))
    same = torch.ones(4, 3, requires_grad=True)  # identical features: distances 0
    batch_hard_triplet_loss(same, torch.tensor([0, 0, 1, 1])).backward()
    assert torch.isfinite(same.grad).all()


def hand_cross_entropy(head, features, labels, smooth):
    """Label-smoothed cross-entropy of the head's classifier on batch-normalised (training) ``features``."""
    normed = (features - features.mean(0)) / torch.sqrt(features.var(0, unbiased=False) + 1e-5)
    log_probs = F.log_softmax(normed @ head.classifier.weight.T, dim=1)
    count, classes = log_probs.shape
    target = torch.full((count, classes), smooth / classes)
    target[torch.arange(count), labels] += 1 - smooth
    return -(target * log_probs).sum(1).mean().item()


def test_default_losses_are_smoothing_0_1_and_soft_margin_with_weight_1():
    torch.manual_seed(0)
    head = BNNeckHead(in_channels=6, num_classes=4)
    features, labels = torch.randn(8, 6), [0, 0, 1, 1, 2, 2, 3, 3]
    losses = head.loss(features, [Sample(label) for label in labels])
    assert losses['loss_cls'].item() == pytest.approx(hand_cross_entropy(head, features, labels, 0.1), rel=1e-5)
    assert losses['loss_triplet'].item() == pytest.approx(reference_triplet(features, labels, None), rel=1e-5)
    assert TripletLoss()(features, torch.tensor(labels)).item() == pytest.approx(
        reference_triplet(features, labels, None), rel=1e-5)


def test_losses_match_hand_computation_and_bn_bias_stays_frozen():
    torch.manual_seed(0)
    head = BNNeckHead(in_channels=6, num_classes=4, label_smooth=0.2, triplet_margin=0.3, loss_weights=(0.7, 1.5))
    assert not head.bottleneck.bias.requires_grad and head.classifier.bias is None
    assert 0.0005 < head.classifier.weight.std().item() < 0.002  # N(0, 0.001^2)
    features = torch.randn(8, 6)
    labels = [0, 0, 1, 1, 2, 2, 3, 3]
    losses = head.loss((torch.randn(8, 6), features), [Sample(label) for label in labels])  # last output used
    assert set(losses) == {'loss_cls', 'loss_triplet'}  # never 'loss', the name of mmengine's total
    assert losses['loss_cls'].item() == pytest.approx(0.7 * hand_cross_entropy(head, features, labels, 0.2), rel=1e-5)
    assert losses['loss_triplet'].item() == pytest.approx(1.5 * reference_triplet(features, labels, 0.3), rel=1e-5)
    sum(losses.values()).backward()
    assert head.bottleneck.weight.grad is not None and head.bottleneck.bias.grad is None


@pytest.mark.parametrize('test_feature', ['after_bn', 'before_bn'])
def test_predict_sets_the_test_feature(test_feature):
    from mmpretrain.structures import DataSample
    head = BNNeckHead(in_channels=3, num_classes=2, test_feature=test_feature)
    head.bottleneck.running_mean.copy_(torch.tensor([1.0, 2.0, 3.0]))
    head.bottleneck.running_var.copy_(torch.tensor([4.0, 1.0, 0.25]))
    head.bottleneck.weight.data.copy_(torch.tensor([2.0, 1.0, 0.5]))
    head.eval()
    features = torch.tensor([[3.0, 2.0, 3.5]])
    samples = head.predict((features,), [DataSample()])
    expected = (torch.tensor([[2.0 * 2 / math.sqrt(4 + 1e-5), 0.0, 0.5 * 0.5 / math.sqrt(0.25 + 1e-5)]])
                if test_feature == 'after_bn' else features)
    torch.testing.assert_close(samples[0].pred_feature, expected[0])
    torch.testing.assert_close(head((features,)), expected)
    assert len(head.predict((torch.zeros(5, 3),))) == 5  # DataSamples made when none are given
    torch.testing.assert_close(head(features), expected)  # a bare tensor is the feature itself


def test_init_cfg_reaches_base_module():
    init_cfg = dict(type='Normal', layer='Linear', std=0.5)
    assert BNNeckHead(4, 2, init_cfg=init_cfg).init_cfg == init_cfg and BNNeckHead(4, 2).init_cfg is None


def test_bad_arguments_are_refused():
    from mmdenoiserep.utils import InputError
    with pytest.raises(InputError, match='test_feature must be one of'):
        BNNeckHead(4, 2, test_feature='neck')
    with pytest.raises(InputError, match='loss_weights must be'):
        BNNeckHead(4, 2, loss_weights=(1.0,))


def test_euclidean_distance_below_one_and_at_zero():
    distances = euclidean_distance(torch.tensor([[0.0, 0.0], [0.3, 0.4]], dtype=torch.float64))
    torch.testing.assert_close(distances, torch.tensor([[1e-6, 0.5], [0.5, 1e-6]], dtype=torch.float64))
