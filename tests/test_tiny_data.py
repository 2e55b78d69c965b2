"""tools/make_tiny_data.py: deterministic tiny COCO / ADE20K / ImageNet / Market-1501 in their real formats,
loaded by the stock mmdet / mmseg / mmpretrain datasets."""
import hashlib
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.filterwarnings('ignore::DeprecationWarning:pycocotools'),
              pytest.mark.filterwarnings('ignore:`reduce_zero_label` will be deprecated:UserWarning')]

import mmdenoiserep.tiny_data as mtd

SCRIPT = Path(__file__).resolve().parents[1] / 'tools' / 'make_tiny_data.py'

COCO_IDS = sorted(set(range(1, 91)) - {12, 26, 29, 30, 45, 66, 68, 69, 71, 83})
COCO_SPLITS = [('train2017', 24), ('val2017', 8)]
# Area of each shape over the area of its tight box: regular 24-gon, square, equilateral triangle.
BOX_FRACTIONS = {'sports ball': 3 * np.sin(np.pi / 12), 'tv': 1.0, 'kite': 0.5}


@pytest.fixture(scope='session')
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp('tiny')
    start = time.perf_counter()
    roots = mtd.make_tiny_data(str(out))
    return dict(out=out, seconds=time.perf_counter() - start, roots={k: Path(v) for k, v in roots.items()})


def sha256_tree(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob('*')) if p.is_file()}


def saturation(rgb):
    """max - min over the channels of (..., 3) uint8 colors: high for the shapes, low for backgrounds."""
    rgb = rgb.astype(np.int16)
    return rgb.max(-1) - rgb.min(-1)


def grow(mask, pixels=2):
    """`mask` dilated by a square of side 2 * pixels + 1, to step over JPEG-blurred edges."""
    padded = np.pad(mask, pixels)
    h, w = mask.shape
    offsets = range(2 * pixels + 1)
    return np.any([padded[dy:dy + h, dx:dx + w] for dy in offsets for dx in offsets], 0)


def run_cli(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_layout_roots_and_speed(tiny):
    out = tiny['out']
    assert tiny['seconds'] < 20
    assert tiny['roots'] == {'coco': out / 'coco', 'ade': out / 'ade' / 'ADEChallengeData2016',
                             'imagenet': out / 'imagenet',
                             'market1501': out / 'market1501' / 'Market-1501-v15.09.15'}
    assert sorted(os.listdir(out)) == ['ade', 'coco', 'imagenet', 'market1501']  # no temp folders left
    for name in tiny['roots']:
        assert (out / name / '.complete').read_text().strip() == mtd.VERSION
    files = [p for p in out.rglob('*') if p.is_file() and p.name != '.complete']
    ade, market = 'ade/ADEChallengeData2016', 'market1501/Market-1501-v15.09.15'
    assert Counter(str(p.parent.relative_to(out)) for p in files) == {
        'coco/train2017': 24, 'coco/val2017': 8, 'coco/annotations': 2,
        f'{ade}/images/training': 24, f'{ade}/images/validation': 8,
        f'{ade}/annotations/training': 24, f'{ade}/annotations/validation': 8,
        **{f'imagenet/train/{c[0]}': 8 for c in mtd.IMAGENET_CLASSES}, 'imagenet/val': 15, 'imagenet/meta': 2,
        f'{market}/bounding_box_train': 24, f'{market}/query': 8, f'{market}/bounding_box_test': 30}


def test_regeneration_is_byte_identical(tiny, tmp_path):
    mtd.make_tiny_data(str(tmp_path))
    first, second = sha256_tree(tiny['out']), sha256_tree(tmp_path)
    assert sorted(first) == sorted(second)
    assert first == second


@pytest.mark.parametrize('pattern, size, mode', [
    ('coco/*2017/*.jpg', (128, 96), 'RGB'),
    ('ade/ADEChallengeData2016/images/*/*.jpg', (128, 128), 'RGB'),
    ('ade/ADEChallengeData2016/annotations/*/*.png', (128, 128), 'L'),
    ('imagenet/*/**/*.JPEG', (64, 64), 'RGB'),
    ('market1501/Market-1501-v15.09.15/*/*.jpg', (64, 128), 'RGB')])
def test_images_open_with_documented_size(tiny, pattern, size, mode):
    paths = list(tiny['out'].glob(pattern))
    assert paths
    for path in paths:
        with Image.open(path) as image:
            assert (image.size, image.mode) == (size, mode), path


def test_coco_json_is_standard(tiny):
    from mmdet.datasets import CocoDataset
    from pycocotools.coco import COCO
    image_ids = []
    for split, count in COCO_SPLITS:
        coco = COCO(str(tiny['roots']['coco'] / 'annotations' / f'instances_{split}.json'))
        categories = coco.loadCats(coco.getCatIds())
        assert [c['id'] for c in categories] == COCO_IDS
        assert [c['name'] for c in categories] == list(CocoDataset.METAINFO['classes'])
        assert {c['id']: c['name'] for c in categories if c['id'] in (37, 38, 72)} == {
            37: 'sports ball', 38: 'kite', 72: 'tv'}
        assert len(coco.getImgIds()) == count
        image_ids += coco.getImgIds()
        for image in coco.loadImgs(coco.getImgIds()):
            assert image['file_name'] == f"{image['id']:012d}.jpg"
            assert (tiny['roots']['coco'] / split / image['file_name']).is_file()
            assert 2 <= len(coco.getAnnIds(imgIds=image['id'])) <= 4
        for ann in coco.loadAnns(coco.getAnnIds()):
            assert ann['iscrowd'] == 0 and ann['category_id'] in (37, 38, 72)
            xs, ys = ann['segmentation'][0][0::2], ann['segmentation'][0][1::2]
            x, y, w, h = ann['bbox']
            assert (x, y) == (min(xs), min(ys))
            assert (x + w, y + h) == pytest.approx((max(xs), max(ys)), abs=0.011)
            assert abs(coco.annToMask(ann).sum() - ann['area']) < 0.15 * ann['area']
    assert len(set(image_ids)) == len(image_ids)


@pytest.mark.parametrize('split, count', COCO_SPLITS)
def test_coco_loads_in_mmdet_with_masks_matching_the_shapes(tiny, split, count):
    from mmcv.transforms import LoadImageFromFile
    from mmdet.datasets import CocoDataset
    from mmdet.datasets.transforms import LoadAnnotations
    dataset = CocoDataset(
        data_root=str(tiny['roots']['coco']), ann_file=f'annotations/instances_{split}.json',
        data_prefix=dict(img=f'{split}/'),
        pipeline=[LoadImageFromFile(), LoadAnnotations(with_bbox=True, with_mask=True)])
    assert len(dataset) == count
    classes = dataset.metainfo['classes']
    seen = Counter()
    for i in range(len(dataset)):
        results = dataset[i]
        image = results['img'][..., ::-1]  # BGR -> RGB
        masks = results['gt_masks'].masks.astype(bool)
        boxes, labels = results['gt_bboxes'].tensor.numpy(), results['gt_bboxes_labels']
        assert image.shape == (96, 128, 3) and masks.shape == (len(labels), 96, 128)
        assert (saturation(image[~grow(masks.any(0))]) < 70).all()
        for (x0, y0, x1, y1), label, mask in zip(boxes, labels, masks):
            name = classes[label]
            seen[name] += 1
            ys, xs = np.nonzero(mask)
            assert xs.min() >= x0 - 1 and xs.max() <= x1 and ys.min() >= y0 - 1 and ys.max() <= y1
            assert mask.sum() / ((x1 - x0) * (y1 - y0)) == pytest.approx(BOX_FRACTIONS[name], abs=0.12)
            assert (saturation(image[~grow(~mask)]) >= 70).all()
    assert set(seen) == set(BOX_FRACTIONS)


@pytest.mark.parametrize('split, count', [('training', 24), ('validation', 8)])
def test_ade_loads_in_mmseg(tiny, split, count):
    from mmcv.transforms import LoadImageFromFile
    from mmseg.datasets import ADE20KDataset
    from mmseg.datasets.transforms import LoadAnnotations
    dataset = ADE20KDataset(
        data_root=str(tiny['roots']['ade']),
        data_prefix=dict(img_path=f'images/{split}', seg_map_path=f'annotations/{split}'),
        pipeline=[LoadImageFromFile(), LoadAnnotations(reduce_zero_label=True)])
    assert len(dataset) == count
    classes = dataset.metainfo['classes']
    wall, floor = classes.index('wall'), classes.index('floor')
    shape_ids = {classes.index(name) for name in ('ball', 'box', 'tent')}
    seen = set()
    for i in range(len(dataset)):
        results = dataset[i]
        image, seg = results['img'][..., ::-1], results['gt_seg_map']
        assert seg.shape == image.shape[:2] == (128, 128)
        assert (seg[0] == wall).all() and (seg[-1] == floor).all()
        values = set(np.unique(seg).tolist())
        assert {wall, floor, 255} <= values  # 255: the unlabelled (0) shape outlines after reduce_zero_label
        assert values - {wall, floor, 255} and values - {wall, floor, 255} <= shape_ids
        seen |= values
        shapes = np.isin(seg, list(shape_ids))
        assert (saturation(image[~grow(~shapes)]) >= 70).all()
        assert (saturation(image[~grow(shapes | (seg == 255))]) < 70).all()
    assert shape_ids <= seen


@pytest.mark.parametrize('split, per_class', [('train', 8), ('val', 3)])
def test_imagenet_loads_in_mmpretrain(tiny, split, per_class):
    from mmpretrain.datasets import ImageNet
    root = tiny['roots']['imagenet']
    dataset = ImageNet(data_root=str(root), split=split)
    assert len(dataset) == len(mtd.IMAGENET_CLASSES) * per_class
    meta = dict(line.split() for line in (root / 'meta' / f'{split}.txt').read_text().splitlines())
    by_label = {label: (wnid, name, color) for wnid, label, name, _, color in mtd.IMAGENET_CLASSES}
    labels = Counter()
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        path, label = Path(info['img_path']), info['gt_label']
        assert label == int(meta[str(path.relative_to(root / split))])
        wnid, name, color = by_label[label]
        assert dataset.CLASSES[label].split(',')[0] == name
        if split == 'train':
            assert path.parent.name == wnid and path.name.startswith(f'{wnid}_')
        else:
            assert path.parent == root / 'val' and re.fullmatch(r'ILSVRC2012_val_\d{8}\.JPEG', path.name)
        pixels = np.asarray(Image.open(path)).reshape(-1, 3)
        shape = pixels[saturation(pixels) >= 70]
        assert len(shape) > 0.07 * len(pixels)
        assert np.abs(shape.mean(0) - color).sum() < 40
        labels[label] += 1
    assert labels == {label: per_class for label in by_label}


def parse_market(folder):
    names = sorted(p.name for p in folder.glob('*.jpg'))
    for name in names:
        assert re.fullmatch(r'(-1|\d{4})_c[1-6]s\d_\d{6}_\d{2}\.jpg', name), name
    return [(int(m.group(1)), int(m.group(2))) for m in (re.match(r'([-\d]+)_c(\d)', n) for n in names)]


def test_market1501_ids_and_cameras(tiny):
    root = tiny['roots']['market1501']
    train, query, gallery = (parse_market(root / f)
                             for f in ('bounding_box_train', 'query', 'bounding_box_test'))
    assert (len(train), len(query), len(gallery)) == (24, 8, 30)
    train_ids = {pid for pid, _ in train}
    test_ids = {pid for pid, _ in gallery} - {-1, 0}
    assert train_ids == set(mtd.MARKET_TRAIN_IDS) and test_ids == set(mtd.MARKET_TEST_IDS)
    assert train_ids.isdisjoint(test_ids)
    assert {pid for pid, _ in query} == test_ids
    assert Counter(pid for pid, _ in gallery if pid in (-1, 0)) == {-1: 3, 0: 3}
    for pid in train_ids:
        assert len({cam for p, cam in train if p == pid}) >= 2
    for pid, cam in query:
        assert any(p == pid and c != cam for p, c in gallery), (pid, cam)


def test_market1501_colors_identify_persons(tiny):
    root = tiny['roots']['market1501']
    outfits = {}
    for path in root.glob('*/*.jpg'):
        pid = int(re.match(r'([-\d]+)_c(\d)', path.name).group(1))
        if pid > 0:
            pixels = np.asarray(Image.open(path)).astype(float)
            shirt, pants = pixels[35:65, 25:40].mean((0, 1)), pixels[76:112, 24:28].mean((0, 1))
            outfits.setdefault(pid, []).append(np.concatenate([shirt, pants]))
    centers = {pid: np.mean(values, 0) for pid, values in outfits.items()}
    for pid, values in outfits.items():
        assert max(np.abs(v - centers[pid]).max() for v in values) < 20, pid
        for other in centers:
            assert other == pid or np.abs(centers[other] - centers[pid]).max() > 60


def test_complete_datasets_are_skipped_unless_forced_or_incomplete(tmp_path):
    meta = Path(mtd.make_tiny_data(str(tmp_path), only=['imagenet'])['imagenet']) / 'meta' / 'val.txt'
    original = meta.read_text()
    meta.write_text('edited')
    mtd.make_tiny_data(str(tmp_path), only=['imagenet'])
    assert meta.read_text() == 'edited'
    mtd.make_tiny_data(str(tmp_path), only=['imagenet'], force=True)
    assert meta.read_text() == original
    meta.write_text('edited')
    (tmp_path / 'imagenet' / '.complete').unlink()
    mtd.make_tiny_data(str(tmp_path), only=['imagenet'])
    assert meta.read_text() == original
    assert os.listdir(tmp_path) == ['imagenet']


def test_failed_build_leaves_no_partial_dataset(tmp_path, monkeypatch):
    def interrupted(root, rng):
        Path(root, 'half.txt').write_text('half')
        raise KeyboardInterrupt

    mtd.make_tiny_data(str(tmp_path), only=['imagenet'])
    before = sha256_tree(tmp_path)
    monkeypatch.setitem(mtd.BUILDERS, 'coco', interrupted)
    monkeypatch.setitem(mtd.BUILDERS, 'imagenet', interrupted)
    with pytest.raises(KeyboardInterrupt):
        mtd.make_tiny_data(str(tmp_path), only=['coco'])
    with pytest.raises(KeyboardInterrupt):
        mtd.make_tiny_data(str(tmp_path), only=['imagenet'], force=True)
    assert os.listdir(tmp_path) == ['imagenet']
    assert sha256_tree(tmp_path) == before


def test_unknown_dataset_name_raises(tmp_path):
    with pytest.raises(ValueError, match='cityscapes'):
        mtd.make_tiny_data(str(tmp_path / 'out'), only=['coco', 'cityscapes'])
    assert not (tmp_path / 'out').exists()


def test_cli_only_builds_the_named_datasets(tmp_path):
    out = tmp_path / 'tiny'
    result = run_cli('--out', str(out), '--only', 'market1501', 'ade')
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == ['ade', 'market1501']
    assert f"ade: {out / 'ade' / 'ADEChallengeData2016'}" in result.stdout.splitlines()


@pytest.mark.parametrize('args, word', [(['--only', 'cityscapes'], 'cityscapes'), (['--only'], '--only'),
                                        (['--bogus'], '--bogus')])
def test_cli_bad_arguments_fail_with_one_line(tmp_path, args, word):
    result = run_cli('--out', str(tmp_path / 'tiny'), *args)
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1 and 'error' in result.stderr and word in result.stderr
    assert os.listdir(tmp_path) == []
