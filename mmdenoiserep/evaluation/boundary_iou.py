"""``mmdenoiserep.BoundaryIoUMetric``: semantic-segmentation Boundary IoU (``mBIoU``), the DenoiseRep ADE20K metric.

Boundary IoU is from B. Cheng, R. Girshick, P. Dollar, A. C. Berg, A. Kirillov, "Boundary IoU: Improving
Object-Centric Image Segmentation Evaluation", CVPR 2021. The boundary of a mask follows the authors'
reference code, ``mask_to_boundary`` in ``boundary_iou/utils/boundary_utils.py`` of
https://github.com/bowenc0221/boundary-iou-api (read, not copied):

- the boundary ``B(M)`` of a binary mask ``M`` of an ``H x W`` image is ``M`` minus its erosion;
- the erosion is ``d`` iterations of a 3x3 square structuring element (``cv2.erode``) applied to ``M``
  padded with one ring of zeros (``cv2.copyMakeBorder``), the padding cropped back afterwards, so a
  mask cut by the image border has a boundary along that border;
- ``d = max(1, round(dilation_ratio * sqrt(H**2 + W**2)))``, ``dilation_ratio`` 0.02 by default, and
  ``round`` is Python's (ties to even), as the reference's ``int(round(...))``.

Equivalently, a pixel is on the boundary iff it is in ``M`` and some pixel within Chebyshev distance
``d`` of it, out-of-image pixels counting as background, is not.

Choices for semantic segmentation (the reference evaluates instances one by one):

- per image and class ``c``, ``M`` is ``pred == c`` and ``gt == c`` of the full label maps (a pixel
  whose ground truth is ``ignore_index`` is background for every class of ``gt``), then the pixels whose
  ground truth is ``ignore_index`` are left out of both counts
  ``|B(pred) & B(gt)|`` and ``|B(pred) | B(gt)|``;
- the counts are summed over the whole dataset before dividing, as mmseg's ``IoUMetric`` does for IoU;
- a class whose summed union is 0 has ``nan`` boundary IoU and is left out of the mean (``nanmean``);
- label values outside ``[0, num_classes)`` other than ``ignore_index`` belong to no class.
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from prettytable import PrettyTable

from ..registry import METRICS

__all__ = ['BoundaryIoUMetric', 'boundary_intersection_and_union', 'boundary_width', 'mask_boundary']

_SQUARE_3X3 = np.ones((3, 3), dtype=np.uint8)


def boundary_width(image_shape: Tuple[int, int], dilation_ratio: float = 0.02) -> int:
    """The boundary width ``d = max(1, round(dilation_ratio * image diagonal))`` in pixels.

    Args:
        image_shape: ``(H, W)``.
        dilation_ratio: Width as a fraction of the image diagonal.

    Returns:
        int: ``d >= 1`` (Python ``round``: ties to even, as the reference code).
    """
    height, width = image_shape
    return max(1, int(round(dilation_ratio * math.sqrt(height ** 2 + width ** 2))))


def mask_boundary(mask: np.ndarray, dilation_ratio: float = 0.02) -> np.ndarray:
    """The boundary of a binary mask: the mask minus its ``d``-fold 3x3 erosion, the image zero-padded.

    Args:
        mask: ``(H, W)`` binary mask (bool or integers, nonzero is foreground).
        dilation_ratio: Boundary width as a fraction of the image diagonal, see `boundary_width`.

    Returns:
        np.ndarray: ``(H, W)`` bool, True on the mask's pixels within ``d`` (Chebyshev distance) of the
        background or of the image border.
    """
    mask = np.asarray(mask) != 0
    iterations = boundary_width(mask.shape, dilation_ratio)
    padded = cv2.copyMakeBorder(mask.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(padded, _SQUARE_3X3, iterations=iterations)[1:-1, 1:-1]
    return mask & (eroded == 0)


def boundary_intersection_and_union(pred_label: np.ndarray, gt_label: np.ndarray, num_classes: int,
                                    ignore_index: int = 255,
                                    dilation_ratio: float = 0.02) -> Tuple[np.ndarray, np.ndarray]:
    """Per-class boundary intersection and union pixel counts of one image.

    Args:
        pred_label: ``(H, W)`` integer predicted label map.
        gt_label: ``(H, W)`` integer ground-truth label map.
        num_classes: Number of classes ``C``; labels ``0 .. C-1`` are counted.
        ignore_index: Ground-truth label of the pixels left out of the counts.
        dilation_ratio: Boundary width as a fraction of the image diagonal, see `boundary_width`.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(C,)`` int64 counts ``|B(pred==c) & B(gt==c)|`` and
        ``|B(pred==c) | B(gt==c)|`` over the pixels whose ground truth is not ``ignore_index``.
    """
    pred_label, gt_label = np.asarray(pred_label), np.asarray(gt_label)
    if pred_label.shape != gt_label.shape:
        raise ValueError(f'prediction shape {pred_label.shape} != ground-truth shape {gt_label.shape}')
    valid = gt_label != ignore_index
    intersection = np.zeros(num_classes, dtype=np.int64)
    union = np.zeros(num_classes, dtype=np.int64)
    labels = np.union1d(pred_label, gt_label)
    for label in labels[(labels >= 0) & (labels < num_classes)]:  # absent classes have no boundary
        pred_boundary = mask_boundary(pred_label == label, dilation_ratio) & valid
        gt_boundary = mask_boundary(gt_label == label, dilation_ratio) & valid
        intersection[label] = np.count_nonzero(pred_boundary & gt_boundary)
        union[label] = np.count_nonzero(pred_boundary | gt_boundary)
    return intersection, union


@METRICS.register_module()
class BoundaryIoUMetric(BaseMetric):
    """Semantic-segmentation Boundary IoU, ``mBIoU`` in percent (see the module docstring).

    Reads mmseg data samples (``pred_sem_seg`` and ``gt_sem_seg``, each ``{'data': (1, H, W) tensor}``)
    and ``dataset_meta['classes']``; logs a per-class table like mmseg's ``IoUMetric``.

    Args:
        ignore_index: Ground-truth label of the pixels left out of the evaluation.
        dilation_ratio: Boundary width as a fraction of the image diagonal.
        collect_device: ``'cpu'`` or ``'gpu'``, where results of all ranks are gathered.
        prefix: Prefix of the metric names (none by default).
    """

    def __init__(self, ignore_index: int = 255, dilation_ratio: float = 0.02, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_index = ignore_index
        self.dilation_ratio = dilation_ratio

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Append the per-class ``(intersection, union)`` counts, each ``(C,)``, of every sample."""
        num_classes = len(self.dataset_meta['classes'])
        for data_sample in data_samples:
            pred_label, gt_label = (_label_map(data_sample[key]['data']) for key in ('pred_sem_seg', 'gt_sem_seg'))
            self.results.append(boundary_intersection_and_union(pred_label, gt_label, num_classes,
                                                                self.ignore_index, self.dilation_ratio))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Sum the counts over the dataset, log the per-class table and return ``{'mBIoU': percent}``."""
        intersection, union = (np.sum(counts, axis=0) for counts in zip(*results))
        class_biou = np.divide(intersection, union, out=np.full(len(union), np.nan), where=union > 0)
        table = PrettyTable()
        table.add_column('Class', list(self.dataset_meta['classes']))
        table.add_column('BIoU', np.round(class_biou * 100, 2).tolist())
        logger = MMLogger.get_current_instance()
        print_log('per class results:', logger)
        print_log('\n' + table.get_string(), logger=logger)
        mean = np.nanmean(class_biou) if np.any(union > 0) else np.nan
        return dict(mBIoU=float(np.round(mean * 100, 2)))


def _label_map(data) -> np.ndarray:
    """A ``(1, H, W)`` or ``(H, W)`` tensor or array as an ``(H, W)`` numpy array."""
    data = data.cpu().numpy() if hasattr(data, 'cpu') else np.asarray(data)
    return data.reshape(data.shape[-2:])
