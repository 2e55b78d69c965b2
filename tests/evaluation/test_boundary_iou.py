"""`mmdenoiserep.BoundaryIoUMetric` and its boundary functions: hand-worked masks, a brute-force oracle, the
metric end to end and its registration."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmdenoiserep.evaluation import BoundaryIoUMetric, boundary_intersection_and_union, boundary_width, mask_boundary
from mmdenoiserep.evaluation import boundary_iou as boundary_iou_module

IGNORE = 255


def brute_force_boundary(mask, width):
    """Mask pixels with a background or out-of-image pixel within Chebyshev distance ``width``.

    This is the boundary of the reference code: ``width`` iterations of a 3x3 erosion erode by the
    (2 width + 1)-square, and a pixel within ``width`` of the border reaches the zero padding ring, which
    no erosion changes, so out-of-image pixels count as background (checked against `iterated_erosion`
    in `test_brute_force_is_mask_minus_iterated_erosion`).
    """
    height, image_width = mask.shape
    padded = np.zeros((height + 2 * width, image_width + 2 * width), dtype=bool)
    padded[width:width + height, width:width + image_width] = mask
    boundary = np.zeros_like(mask, dtype=bool)
    for row, col in zip(*np.nonzero(mask)):
        boundary[row, col] = not padded[row:row + 2 * width + 1, col:col + 2 * width + 1].all()
    return boundary


def iterated_erosion(mask, iterations):
    """``iterations`` erosions by a 3x3 square of the mask padded with one ring of zeros, cropped back."""
    height, width = mask.shape
    padded = np.pad(mask.astype(bool), 1)
    for _ in range(iterations):
        shifted = np.pad(padded, 1, constant_values=True)  # out of the padded image: no effect (cv2's default)
        padded = np.logical_and.reduce([shifted[1 + dy:height + 3 + dy, 1 + dx:width + 3 + dx]
                                        for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    return padded[1:-1, 1:-1]


def spec_width(shape, dilation_ratio):
    return max(1, round(dilation_ratio * math.hypot(*shape)))


def brute_force_counts(pred, gt, num_classes, dilation_ratio):
    """Per-class boundary intersection and union counts over the pixels whose ground truth is not IGNORE."""
    width = spec_width(gt.shape, dilation_ratio)
    valid = gt != IGNORE
    intersection, union = np.zeros(num_classes, dtype=np.int64), np.zeros(num_classes, dtype=np.int64)
    for label in range(num_classes):
        pred_boundary = brute_force_boundary(pred == label, width) & valid
        gt_boundary = brute_force_boundary(gt == label, width) & valid
        intersection[label] = (pred_boundary & gt_boundary).sum()
        union[label] = (pred_boundary | gt_boundary).sum()
    return intersection, union


def ring(shape, top, left, size, thickness):
    """The outer ``thickness`` rings of the ``size`` square at (top, left), by hand as a set of pixels."""
    mask = np.zeros(shape, dtype=bool)
    for row in range(top, top + size):
        for col in range(left, left + size):
            distance_to_edge = min(row - top, col - left, top + size - 1 - row, left + size - 1 - col)
            mask[row, col] = distance_to_edge < thickness
    return mask


def random_label_maps(rng, shape, num_classes, ignore_fraction):
    """Blocky random label maps (2x2 cells, so boundaries are not everything), pred a noisy copy of gt."""
    cells = rng.integers(0, num_classes, size=((shape[0] + 1) // 2, (shape[1] + 1) // 2))
    gt = np.kron(cells, np.ones((2, 2), dtype=np.int64))[:shape[0], :shape[1]]
    pred = np.where(rng.random(shape) < 0.2, rng.integers(0, num_classes, size=shape), gt)
    gt = np.where(rng.random(shape) < ignore_fraction, IGNORE, gt)
    return pred, gt


# (a) hand-worked masks

@pytest.mark.parametrize('shape, dilation_ratio, expected', [
    ((9, 9), 0.02, 1),      # 0.25 -> 0, at least 1
    ((20, 20), 0.06, 2),    # 1.697 rounds to 2 (truncation would give 1)
    ((3, 4), 0.5, 2),       # 2.5: ties to even, as the reference's int(round(2.5))
    ((512, 683), 0.02, 17),  # 17.07
])
def test_boundary_width(shape, dilation_ratio, expected):
    assert boundary_width(shape, dilation_ratio) == expected


def test_square_boundary_is_its_outer_ring():
    square = np.zeros((9, 9), dtype=bool)
    square[2:7, 2:7] = True
    boundary = mask_boundary(square)  # d = 1
    assert boundary.sum() == 16
    np.testing.assert_array_equal(boundary, ring((9, 9), 2, 2, 5, thickness=1))


def test_two_rings_for_width_two():
    square = np.zeros((11, 11), dtype=bool)
    square[2:9, 2:9] = True
    ratio = 2 / math.hypot(11, 11)  # d = 2
    np.testing.assert_array_equal(mask_boundary(square, ratio), ring((11, 11), 2, 2, 7, thickness=2))


def test_width_rounds_to_nearest():
    full = np.ones((20, 20), dtype=bool)  # d = round(1.697) = 2: the two outer rings of the image
    np.testing.assert_array_equal(mask_boundary(full, 0.06), ring((20, 20), 0, 0, 20, thickness=2))


def test_mask_touching_the_border_keeps_border_pixels():
    mask = np.zeros((6, 6), dtype=bool)
    mask[:, :3] = True  # left half: its left, top and bottom sides are on the image border
    expected = np.zeros((6, 6), dtype=bool)
    expected[:, [0, 2]] = True
    expected[[0, 5], :3] = True
    np.testing.assert_array_equal(mask_boundary(mask), expected)


def test_line_is_all_boundary_and_empty_mask_has_none():
    line = np.zeros((8, 8), dtype=bool)
    line[3, 1:7] = True
    np.testing.assert_array_equal(mask_boundary(line), line)
    assert not mask_boundary(np.zeros((8, 8), dtype=np.uint8)).any()


# (b) brute force

@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), height=st.integers(1, 16), width=st.integers(1, 16),
       iterations=st.integers(1, 4))
def test_brute_force_is_mask_minus_iterated_erosion(seed, height, width, iterations):
    mask = np.random.default_rng(seed).random((height, width)) < 0.7
    np.testing.assert_array_equal(brute_force_boundary(mask, iterations),
                                  mask & ~iterated_erosion(mask, iterations))


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), height=st.integers(1, 24), width=st.integers(1, 24),
       num_classes=st.integers(1, 5), ignore_fraction=st.sampled_from([0.0, 0.1, 0.4]),
       dilation_ratio=st.sampled_from([0.0, 0.02, 0.05, 0.1, 0.2]))
def test_module_matches_brute_force(seed, height, width, num_classes, ignore_fraction, dilation_ratio):
    pred, gt = random_label_maps(np.random.default_rng(seed), (height, width), num_classes, ignore_fraction)
    width_d = spec_width(gt.shape, dilation_ratio)
    for label in range(num_classes):
        np.testing.assert_array_equal(mask_boundary(gt == label, dilation_ratio),
                                      brute_force_boundary(gt == label, width_d))
    counts = boundary_intersection_and_union(pred, gt, num_classes, IGNORE, dilation_ratio)
    np.testing.assert_array_equal(counts, brute_force_counts(pred, gt, num_classes, dilation_ratio))


# (c) the metric end to end

def data_sample(pred, gt):
    return {'pred_sem_seg': {'data': torch.from_numpy(pred)[None]},
            'gt_sem_seg': {'data': torch.from_numpy(gt)[None]}}


def evaluate(pairs, classes, dilation_ratio=0.02, monkeypatch=None):
    """mBIoU of the metric on (pred, gt) pairs fed in batches of two, and the lines it logged."""
    logged = []
    if monkeypatch is not None:
        monkeypatch.setattr(boundary_iou_module, 'print_log', lambda message, *args, **kwargs: logged.append(message))
    metric = BoundaryIoUMetric(ignore_index=IGNORE, dilation_ratio=dilation_ratio)
    metric.dataset_meta = dict(classes=classes)
    samples = [data_sample(pred, gt) for pred, gt in pairs]
    for start in range(0, len(samples), 2):
        metric.process({}, samples[start:start + 2])
    return metric.evaluate(len(samples))['mBIoU'], logged


def test_metric_sums_over_the_dataset_like_brute_force():
    rng = np.random.default_rng(0)
    pairs = [random_label_maps(rng, shape, 3, 0.1) for shape in [(12, 17), (20, 9), (15, 15)]]
    counts = [brute_force_counts(pred, gt, 3, 0.1) for pred, gt in pairs]
    intersection, union = (np.sum(column, axis=0) for column in zip(*counts))
    expected = round(float(np.mean(intersection / union)) * 100, 2)
    per_image_mean = round(float(np.mean([i / u for i, u in counts])) * 100, 2)
    assert expected != per_image_mean  # the data tells the two apart
    assert evaluate(pairs, ('a', 'b', 'c'), dilation_ratio=0.1)[0] == pytest.approx(expected, abs=1e-9)


def test_perfect_prediction_scores_100_and_absent_class_is_nan(monkeypatch):
    gt = np.zeros((10, 10), dtype=np.int64)
    gt[3:8, 2:6] = 1  # class 2 appears nowhere
    mbiou, logged = evaluate([(gt.copy(), gt)] * 2, ('wall', 'floor', 'sky'), monkeypatch=monkeypatch)
    assert mbiou == 100.0  # the mean of 100 and 100: the nan class is left out
    rows = {line.split('|')[1].strip(): line.split('|')[2].strip() for line in logged[1].splitlines()
            if line.startswith('|')}
    assert rows == {'Class': 'BIoU', 'wall': '100.0', 'floor': '100.0', 'sky': 'nan'}


def test_mean_leaves_out_only_nan_classes():
    gt = np.zeros((10, 10), dtype=np.int64)
    gt[:, 5:] = 1
    pred = np.zeros_like(gt)
    pred[:, 6:] = 1
    intersection, union = brute_force_counts(pred, gt, 3, 0.02)
    assert union[2] == 0
    assert evaluate([(pred, gt)], ('a', 'b', 'c'))[0] == round(float(np.mean(intersection[:2] / union[:2])) * 100, 2)


def test_ignored_pixels_do_not_count():
    gt = np.zeros((9, 9), dtype=np.int64)
    gt[3:6, 3:6] = IGNORE
    pred = np.zeros_like(gt)
    pred[3:6, 3:6] = 1  # class 0 masks agree; class 1's whole boundary lies in the ignored block
    assert evaluate([(pred, gt)], ('a', 'b'))[0] == 100.0


# (d) the registry

def test_metric_builds_from_the_mmseg_default_scope():
    code = ("from mmengine.registry import METRICS, init_default_scope\n"
            "init_default_scope('mmseg')\n"
            "metric = METRICS.build(dict(type='mmdenoiserep.BoundaryIoUMetric', dilation_ratio=0.01))\n"
            "print(type(metric).__module__, type(metric).__name__, metric.dilation_ratio)\n")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    module, name, dilation_ratio = result.stdout.splitlines()[-1].split()
    assert (module, name, dilation_ratio) == ('mmdenoiserep.evaluation.boundary_iou', 'BoundaryIoUMetric', '0.01')
