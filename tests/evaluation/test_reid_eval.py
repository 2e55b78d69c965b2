"""Re-id ranking (mmdenoiserep.evaluation.reid): reid_rank on hand-worked cases, against an independent
brute-force implementation, invariance to gallery order; ReIDMetric over query/gallery splits and random
per-identity galleries (VehicleID)."""
import numpy as np
import pytest
import torch

from mmdenoiserep.evaluation import ReIDMetric, reid_rank
from mmdenoiserep.utils import InputError


def brute_force_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    """The protocol written out with Python lists: sort by (distance, gallery index), drop same pid and
    camera, CMC from the first match, AP = mean of precision at each match."""
    cmcs, aps = [], []
    for i in range(len(q_pids)):
        ranked = sorted(range(len(g_pids)), key=lambda j: (distmat[i][j], j))
        kept = [j for j in ranked if not (g_pids[j] == q_pids[i] and g_camids[j] == q_camids[i])]
        relevant = [g_pids[j] == q_pids[i] for j in kept]
        if not any(relevant):
            continue
        first = relevant.index(True)
        cmcs.append([1.0 if k >= first else 0.0 for k in range(max_rank)])
        precisions, hits = [], 0
        for position, is_match in enumerate(relevant, start=1):
            if is_match:
                hits += 1
                precisions.append(hits / position)
        aps.append(sum(precisions) / len(precisions))
    return (np.mean(cmcs, axis=0), float(np.mean(aps))) if aps else None


def test_hand_worked_query():
    # gallery, by distance: same pid+camera (discarded), pid 2, pid 1, pid 3, pid 1
    distmat = np.array([[0.1, 0.2, 0.3, 0.4, 0.5]])
    cmc, mean_ap = reid_rank(distmat, [1], [1, 2, 1, 3, 1], [0], [0, 1, 1, 0, 2], max_rank=5)
    np.testing.assert_array_equal(cmc, [0, 1, 1, 1, 1])
    assert mean_ap == pytest.approx((1 / 2 + 2 / 4) / 2)  # matches at ranks 2 and 4


def test_same_camera_other_identity_is_kept_and_same_identity_other_camera_matches():
    distmat = np.array([[0.1, 0.2]])
    cmc, mean_ap = reid_rank(distmat, [1], [7, 1], [0], [0, 1], max_rank=2)
    np.testing.assert_array_equal(cmc, [0, 1])
    assert mean_ap == pytest.approx(0.5)


def test_query_without_match_is_skipped_and_cmc_averages_valid_queries():
    distmat = np.array([[0.3, 0.1, 0.2], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3]])
    q_pids, g_pids = [1, 2, 9], [1, 2, 2]
    # query 0: pid 1 cam 0 -> ranking g1 (2), g2 (2), g0 (1, cam 1): first match rank 3, AP 1/3
    # query 1: pid 2 cam 1 -> g0 (1), g1 (2, cam 1: discarded), g2 (2, cam 0): match at rank 2, AP 1/2
    # query 2: pid 9 -> no match, skipped
    cmc, mean_ap = reid_rank(distmat, q_pids, g_pids, [0, 1, 0], [1, 1, 0], max_rank=3)
    np.testing.assert_allclose(cmc, [0, 0.5, 1])
    assert mean_ap == pytest.approx((1 / 3 + 1 / 2) / 2)


def test_ties_keep_gallery_order():
    distmat = np.array([[1.0, 1.0, 1.0]])
    cmc, mean_ap = reid_rank(distmat, [1], [2, 1, 1], [0], [1, 1, 1], max_rank=3)
    np.testing.assert_array_equal(cmc, [0, 1, 1])
    assert mean_ap == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_no_valid_query_and_bad_shapes_are_refused():
    with pytest.raises(ValueError, match='no query has a match'):
        reid_rank(np.zeros((1, 2)), [1], [1, 2], [0], [0, 0])
    with pytest.raises(ValueError, match='distmat is 1 x 2'):
        reid_rank(np.zeros((1, 2)), [1], [1, 2, 3], [0], [0, 0])


@pytest.mark.parametrize('seed', range(8))
def test_matches_brute_force_on_random_data_with_ties(seed):
    rng = np.random.default_rng(seed)
    num_q, num_g = int(rng.integers(1, 15)), int(rng.integers(1, 40))
    distmat = rng.integers(0, 6, (num_q, num_g)).astype(float)  # many ties
    q_pids, g_pids = rng.integers(0, 5, num_q), rng.integers(0, 5, num_g)
    q_camids, g_camids = rng.integers(0, 3, num_q), rng.integers(0, 3, num_g)
    max_rank = int(rng.integers(1, 12))
    expected = brute_force_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank)
    if expected is None:
        with pytest.raises(ValueError):
            reid_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank)
        return
    cmc, mean_ap = reid_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank)
    assert cmc.shape == (max_rank,)
    np.testing.assert_allclose(cmc, expected[0], rtol=0, atol=1e-12)
    assert mean_ap == pytest.approx(expected[1], abs=1e-12)


@pytest.mark.parametrize('seed', range(4))
def test_invariant_to_gallery_order(seed):
    rng = np.random.default_rng(seed)
    distmat = rng.random((12, 50))  # no ties
    q_pids, g_pids = rng.integers(0, 6, 12), rng.integers(0, 6, 50)
    q_camids, g_camids = rng.integers(0, 3, 12), rng.integers(0, 3, 50)
    cmc, mean_ap = reid_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=20)
    order = rng.permutation(50)
    cmc2, mean_ap2 = reid_rank(distmat[:, order], q_pids, g_pids[order], q_camids, g_camids[order], max_rank=20)
    np.testing.assert_allclose(cmc2, cmc, atol=1e-12)
    assert mean_ap2 == pytest.approx(mean_ap, abs=1e-12)
    assert 0 < mean_ap < 1


def metric_results(features, pids, camids, is_query):
    return [dict(pred_feature=torch.as_tensor(f, dtype=torch.float32), pid=p, camid=c, is_query=q)
            for f, p, c, q in zip(features, pids, camids, is_query)]


def run_metric(metric, samples):
    metric.process({}, samples)
    return metric.evaluate(len(samples))


@pytest.mark.parametrize('query_chunk', [1, 3, 2048])
def test_metric_reports_percent_and_matches_reid_rank_on_normalized_features(query_chunk):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(30, 8))
    pids, camids = rng.integers(0, 5, 30), rng.integers(0, 3, 30)
    is_query = np.arange(30) < 10
    metric = ReIDMetric(query_chunk=query_chunk)
    result = run_metric(metric, metric_results(features, pids, camids, is_query))
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    distmat = 1 - unit[is_query] @ unit[~is_query].T  # same order as squared distances of unit vectors
    cmc, mean_ap = brute_force_rank(distmat, pids[is_query], pids[~is_query], camids[is_query],
                                    camids[~is_query], 10)
    assert set(result) == {'reid/mAP', 'reid/rank1', 'reid/rank5', 'reid/rank10'}
    assert result['reid/mAP'] == pytest.approx(100 * mean_ap, abs=1e-6)
    for k in (1, 5, 10):
        assert result[f'reid/rank{k}'] == pytest.approx(100 * cmc[k - 1], abs=1e-6)


def test_metric_without_normalization_ranks_by_euclidean_distance():
    # the query is closest to the small-norm gallery feature by Euclidean distance, to the other by angle
    features = [[1.0, 0.0], [0.2, 0.1], [3.0, 0.3]]
    samples = metric_results(features, [1, 2, 1], [0, 1, 1], [True, False, False])
    assert run_metric(ReIDMetric(normalize=False), samples)['reid/rank1'] == 0
    assert run_metric(ReIDMetric(normalize=True), samples)['reid/rank1'] == 100


def test_random_per_identity_gallery_averages_seeded_draws():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(24, 6))
    pids = np.repeat(np.arange(6), 4)
    samples = metric_results(features, pids, np.zeros(24, int), np.zeros(24, bool))
    metric = ReIDMetric(gallery='random_per_identity', trials=5, seed=3)
    result = run_metric(metric, samples)
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    cmcs, aps = [], []
    for trial in range(5):
        is_query, is_gallery = metric.draw_gallery(pids, trial)
        assert sorted(pids[is_gallery]) == list(range(6))  # one gallery image per identity
        distmat = 1 - unit[is_query] @ unit[is_gallery].T
        cmc, ap = brute_force_rank(distmat, pids[is_query], pids[is_gallery], [0] * 18, [1] * 6, 10)
        cmcs.append(cmc)
        aps.append(ap)
    assert result['reid/mAP'] == pytest.approx(100 * np.mean(aps), abs=1e-6)
    assert result['reid/rank1'] == pytest.approx(100 * np.mean(cmcs, 0)[0], abs=1e-6)
    draws = [tuple(np.flatnonzero(metric.draw_gallery(pids, t)[1])) for t in range(5)]
    assert len(set(draws)) > 1  # the draws differ ...
    again = ReIDMetric(gallery='random_per_identity', trials=5, seed=3)
    assert draws == [tuple(np.flatnonzero(again.draw_gallery(pids, t)[1])) for t in range(5)]  # ... seeded


def test_metric_refuses_bad_arguments_and_missing_features():
    with pytest.raises(InputError, match='gallery must be one of'):
        ReIDMetric(gallery='all')
    with pytest.raises(InputError, match='trials must be a positive int'):
        ReIDMetric(gallery='random_per_identity', trials=0)
    with pytest.raises(InputError, match='no pred_feature'):
        ReIDMetric().process({}, [dict(pid=1, camid=0, is_query=True)])
