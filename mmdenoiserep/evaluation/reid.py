"""Re-identification ranking: camera-aware CMC and mAP (``reid_rank``) and ``mmdenoiserep.ReIDMetric``.

The standard protocol of Market-1501 (Zheng et al., ICCV 2015) as re-id codebases implement it
(``eval_func`` of TransReID-SSL, ``eval_market1501`` of torchreid; read, not copied), for each query:

- the gallery is ranked by ascending distance, ties kept in gallery order (a stable sort);
- gallery entries with the query's pid *and* camera are discarded (the same view of the same person);
- a match is a remaining entry with the query's pid; a query with no match left is skipped;
- CMC(k) = 1 if a match is within the first k remaining entries; AP = mean over the matches of
  precision at each match's rank, (number of matches up to it) / (its rank).

CMC and mAP are means over the valid queries. Distractors (pid 0 in Market-1501) are ordinary gallery
entries that never match; junk images (pid -1) are dropped by the datasets.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from ..registry import METRICS
from ..utils import InputError

__all__ = ['reid_rank', 'ReIDMetric']


def _rank_sums(distmat, q_pids, g_pids, q_camids, g_camids, max_rank) -> Tuple[np.ndarray, float, int]:
    """(sum of CMC curves, sum of APs, number of valid queries) of the queries of ``distmat`` (Q x G)."""
    order = np.argsort(distmat, axis=1, kind='stable')
    cmc_sum, ap_sum, valid = np.zeros(max_rank), 0.0, 0
    for i in range(distmat.shape[0]):
        ranked = order[i]
        keep = ~((g_pids[ranked] == q_pids[i]) & (g_camids[ranked] == q_camids[i]))
        matches = (g_pids[ranked][keep] == q_pids[i])
        if not matches.any():
            continue
        valid += 1
        first = int(np.argmax(matches))  # 0-based rank of the first match
        if first < max_rank:
            cmc_sum[first:] += 1
        hits = np.cumsum(matches)
        ranks = np.flatnonzero(matches) + 1.0
        ap_sum += float(np.mean(hits[matches] / ranks))
    return cmc_sum, ap_sum, valid


def _check_inputs(distmat, q_pids, g_pids, q_camids, g_camids):
    distmat = np.asarray(distmat)
    arrays = [np.asarray(a).reshape(-1) for a in (q_pids, g_pids, q_camids, g_camids)]
    if distmat.ndim != 2:
        raise ValueError(f'reid_rank: distmat must be 2-D (queries x gallery), got shape {distmat.shape}')
    num_q, num_g = distmat.shape
    if (len(arrays[0]), len(arrays[2])) != (num_q, num_q) or (len(arrays[1]), len(arrays[3])) != (num_g, num_g):
        raise ValueError(f'reid_rank: distmat is {num_q} x {num_g} but got {len(arrays[0])} query pids, '
                         f'{len(arrays[2])} query cameras, {len(arrays[1])} gallery pids, {len(arrays[3])} '
                         'gallery cameras')
    return (distmat, *arrays)


def reid_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank: int = 50) -> Tuple[np.ndarray, float]:
    """CMC and mAP of a query x gallery distance matrix under the camera-aware protocol (module docstring).

    Args:
        distmat: (Q, G) distances, smaller is closer.
        q_pids, q_camids: (Q,) identities and cameras of the queries; g_pids, g_camids: (G,) of the gallery.
        max_rank: length of the CMC curve.

    Returns:
        (cmc, mAP): cmc is a float numpy array of length ``max_rank``, cmc[k-1] = rank-k accuracy in [0, 1];
        mAP in [0, 1]. Raises ValueError when no query has a match.
    """
    distmat, q_pids, g_pids, q_camids, g_camids = _check_inputs(distmat, q_pids, g_pids, q_camids, g_camids)
    cmc_sum, ap_sum, valid = _rank_sums(distmat, q_pids, g_pids, q_camids, g_camids, max_rank)
    if valid == 0:
        raise ValueError('reid_rank: no query has a match in the gallery (other than same-camera views)')
    return cmc_sum / valid, ap_sum / valid


def pairwise_distance(query: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """(Q, G) squared Euclidean distances of (Q, C) and (G, C) features, in float64."""
    query, gallery = query.double(), gallery.double()
    return ((query ** 2).sum(1, keepdim=True) + (gallery ** 2).sum(1)[None] - 2 * query @ gallery.T).clamp_(min=0)


@METRICS.register_module()
class ReIDMetric(BaseMetric):
    """mAP and rank-1/5/10 (percent) of re-id test features, reported as ``reid/mAP``, ``reid/rank1``, ...

    Reads each prediction's ``pred_feature`` (set by ``mmdenoiserep.BNNeckHead``) and its ``pid``,
    ``camid`` and ``is_query`` meta keys (the re-id datasets' samples, packed by ``PackInputs``).

    Args:
        normalize: L2-normalise the features first (the ranking is then that of cosine similarity).
        gallery: ``'split'``: the dataset's query and gallery sets (Market-1501, DukeMTMC-reID, MSMT17,
            CUHK03). ``'random_per_identity'`` (VehicleID): in each of ``trials`` draws (seeded with
            ``seed``), one random image per identity is the gallery and all others are queries; cameras do
            not apply; the figures are means over the draws.
        trials, seed: the draws of ``'random_per_identity'``.
        ranks: the CMC ranks reported.
        query_chunk: queries ranked at once (bounds the memory of the distance matrix).
    """

    default_prefix = 'reid'
    GALLERY_MODES = ('split', 'random_per_identity')

    def __init__(self, normalize: bool = True, gallery: str = 'split', trials: int = 10, seed: int = 0,
                 ranks: Sequence[int] = (1, 5, 10), query_chunk: int = 2048, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if gallery not in self.GALLERY_MODES:
            raise InputError(f'ReIDMetric: gallery must be one of {self.GALLERY_MODES}, got {gallery!r}')
        if not isinstance(trials, int) or trials < 1:
            raise InputError(f'ReIDMetric: trials must be a positive int, got {trials!r}')
        self.normalize, self.gallery, self.trials, self.seed = normalize, gallery, trials, seed
        self.ranks, self.query_chunk = tuple(ranks), query_chunk

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'pred_feature' not in sample:
                raise InputError('ReIDMetric: predictions carry no pred_feature (use mmdenoiserep.BNNeckHead)')
            self.results.append(dict(feature=sample['pred_feature'].detach().float().cpu().reshape(-1),
                                     pid=int(sample['pid']), camid=int(sample['camid']),
                                     is_query=bool(sample['is_query'])))

    def rank(self, features, pids, camids, is_query, is_gallery) -> Tuple[np.ndarray, float]:
        """CMC and mAP of the queries against the gallery (masks), the queries ranked in chunks."""
        query, gallery = np.flatnonzero(is_query), np.flatnonzero(is_gallery)
        max_rank = max(self.ranks)
        cmc_sum, ap_sum, valid = np.zeros(max_rank), 0.0, 0
        for start in range(0, len(query), self.query_chunk):
            chunk = query[start:start + self.query_chunk]
            distmat = pairwise_distance(features[chunk], features[gallery]).numpy()
            sums = _rank_sums(distmat, pids[chunk], pids[gallery], camids[chunk], camids[gallery], max_rank)
            cmc_sum, ap_sum, valid = cmc_sum + sums[0], ap_sum + sums[1], valid + sums[2]
        if valid == 0:
            raise InputError('ReIDMetric: no query has a match in the gallery (other than same-camera views)')
        return cmc_sum / valid, ap_sum / valid

    def compute_metrics(self, results: List[dict]) -> dict:
        features = torch.stack([r['feature'] for r in results])
        if self.normalize:
            features = torch.nn.functional.normalize(features, dim=1)
        pids = np.array([r['pid'] for r in results])
        camids = np.array([r['camid'] for r in results])
        if self.gallery == 'split':
            is_query = np.array([r['is_query'] for r in results])
            cmc, mean_ap = self.rank(features, pids, camids, is_query, ~is_query)
            described = f'{int(is_query.sum())} queries, {int((~is_query).sum())} gallery images'
        else:
            draws = []
            for trial in range(self.trials):
                is_query, is_gallery = self.draw_gallery(pids, trial)
                # cameras do not apply: queries get camera 0 and the gallery camera 1, so none is discarded
                draws.append(self.rank(features, pids, is_gallery.astype(int), is_query, is_gallery))
            cmc, mean_ap = np.mean([d[0] for d in draws], axis=0), float(np.mean([d[1] for d in draws]))
            described = f'{len(results)} images, one random gallery image per identity, {self.trials} draws'
        metrics = dict(mAP=100 * mean_ap)
        metrics.update({f'rank{k}': 100 * float(cmc[k - 1]) for k in self.ranks})
        MMLogger.get_current_instance().info(
            f're-id ({described}): ' + ', '.join(f'{key} {value:.2f}' for key, value in metrics.items()))
        return metrics

    def draw_gallery(self, pids: np.ndarray, trial: int) -> Tuple[np.ndarray, np.ndarray]:
        """(is_query, is_gallery) of draw ``trial``: one image per identity, chosen at random, is the gallery."""
        rng = np.random.default_rng([self.seed, trial])
        is_gallery = np.zeros(len(pids), dtype=bool)
        for pid in np.unique(pids):
            is_gallery[rng.choice(np.flatnonzero(pids == pid))] = True
        return ~is_gallery, is_gallery
