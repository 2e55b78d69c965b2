"""tools/make_tiny_data.py: deterministic tiny COCO / ADE20K / ImageNet / CIFAR-10 / CUB-200-2011 / Oxford-IIIT Pet /
Flowers-102 and re-id sets (Market-1501, DukeMTMC-reID, CUHK03, MSMT17, VehicleID) in their real formats, loaded
by the stock mmdet / mmseg / mmpretrain datasets and the re-id datasets (tests/datasets/test_reid_data.py)."""
import hashlib
import os
import pickle
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

import mmdenoiserep.testing.tiny_data as mtd
from mmdenoiserep.testing.tiny_config import TINY_DATA_ROOT, tiny_config

pytestmark = [pytest.mark.filterwarnings('ignore::DeprecationWarning:pycocotools'),
              pytest.mark.filterwarnings('ignore:`reduce_zero_label` will be deprecated:UserWarning')]

SCRIPT = Path(__file__).resolve().parents[2] / 'tools' / 'make_tiny_data.py'

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
                             'market1501': out / 'market1501' / 'Market-1501-v15.09.15',
                             'cifar10': out / 'cifar10', 'cub': out / 'CUB_200_2011',
                             'pets': out / 'Oxford-IIIT_Pets', 'flowers102': out / 'Flowers102',
                             'dukemtmc': out / 'dukemtmc-reid' / 'DukeMTMC-reID', 'cuhk03': out / 'cuhk03' / 'cuhk03-np',
                             'msmt17': out / 'msmt17' / 'MSMT17_V1', 'vehicleid': out / 'vehicleid' / 'VehicleID_V1.0',
                             'fashion_mnist': out / 'fashion_mnist'}
    folders = ['CUB_200_2011', 'Flowers102', 'Oxford-IIIT_Pets', 'ade', 'cifar10', 'coco', 'cuhk03', 'dukemtmc-reid',
               'fashion_mnist', 'imagenet', 'market1501', 'msmt17', 'vehicleid']
    assert sorted(os.listdir(out)) == folders  # no temp folders left
    for folder in folders:
        assert (out / folder / '.complete').read_text().strip() == mtd.VERSION
    files = [p for p in out.rglob('*') if p.is_file() and p.name != '.complete']
    ade, market = 'ade/ADEChallengeData2016', 'market1501/Market-1501-v15.09.15'
    duke, cuhk03 = 'dukemtmc-reid/DukeMTMC-reID', 'cuhk03/cuhk03-np'
    msmt17, vehicleid = 'msmt17/MSMT17_V1', 'vehicleid/VehicleID_V1.0'
    assert Counter(str(p.parent.relative_to(out)) for p in files) == {
        'coco/train2017': 24, 'coco/val2017': 8, 'coco/unlabeled2017': 8, 'coco/annotations': 2,
        f'{ade}/images/training': 24, f'{ade}/images/validation': 8,
        f'{ade}/annotations/training': 24, f'{ade}/annotations/validation': 8,
        **{f'imagenet/train/{c[0]}': 8 for c in mtd.IMAGENET_CLASSES}, 'imagenet/val': 15, 'imagenet/meta': 2,
        f'{market}/bounding_box_train': 24, f'{market}/query': 8, f'{market}/bounding_box_test': 30,
        'cifar10/cifar-10-batches-py': 7, 'CUB_200_2011': 4,
        **{f'CUB_200_2011/images/{i:03d}.{name}': 5 for i, name in mtd.CUB_CLASSES},
        'Oxford-IIIT_Pets/images': 25, 'Oxford-IIIT_Pets/annotations': 2, 'Flowers102': 2, 'Flowers102/jpg': 30,
        f'{duke}/bounding_box_train': 24, f'{duke}/query': 8, f'{duke}/bounding_box_test': 24,
        **{f'{cuhk03}/{variant}/{folder}': count for variant in ('labeled', 'detected')
           for folder, count in (('bounding_box_train', 16), ('query', 8), ('bounding_box_test', 16))},
        msmt17: 4, **{f'{msmt17}/train/{pid:04d}': 6 for pid in range(4)},
        **{f'{msmt17}/test/{pid:04d}': 8 for pid in range(4)},
        f'{vehicleid}/image': 40, f'{vehicleid}/train_test_split': 4, 'fashion_mnist': 4}


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
    ('market1501/Market-1501-v15.09.15/*/*.jpg', (64, 128), 'RGB'),
    ('dukemtmc-reid/DukeMTMC-reID/*/*.jpg', (64, 128), 'RGB'),
    ('cuhk03/cuhk03-np/*/*/*.png', (64, 128), 'RGB'),
    ('msmt17/MSMT17_V1/*/*/*.jpg', (64, 128), 'RGB'),
    ('vehicleid/VehicleID_V1.0/image/*.jpg', (96, 96), 'RGB'),
    ('CUB_200_2011/images/*/*.jpg', (96, 72), 'RGB'),
    ('Oxford-IIIT_Pets/images/*.jpg', (72, 96), 'RGB'),
    ('Flowers102/jpg/*.jpg', (80, 64), 'RGB')])
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


# Classification sets: {split: number of images}, number of classes of the real set, image size (W, H).
CLASSIFICATION = {'cifar10': ({'train': 50, 'test': 20}, 10, (32, 32)),
                  'cub': ({'train': 15, 'test': 10}, 200, (96, 72)),
                  'pets': ({'trainval': 15, 'test': 10}, 37, (72, 96)),
                  'flowers102': ({'train': 10, 'val': 10, 'trainval': 20, 'test': 10}, 102, (80, 64))}
STOCK_TYPES = {'cifar10': 'CIFAR10', 'cub': 'CUB', 'pets': 'OxfordIIITPet', 'flowers102': 'Flowers102'}
# In mmpretrain's configs/_base_/datasets/.
STOCK_BASE_CONFIGS = {'cifar10': 'cifar10_bs16.py', 'cub': 'cub_bs8_448.py'}
# mmpretrain 1.2.0 has no config for these: the data roots their dataset classes document.
DOCUMENTED_ROOTS = {'pets': 'data/Oxford-IIIT_Pets', 'flowers102': 'data/Flowers102'}


def class_ids(name):
    """The labels (0-based) of the tiny set `name`, in the order of its classes (`class_look`)."""
    return {'cifar10': list(range(10)), 'cub': [i - 1 for i, _ in mtd.CUB_CLASSES],
            'pets': [c[0] - 1 for c in mtd.PETS_CLASSES], 'flowers102': [i - 1 for i in mtd.FLOWERS_CLASSES]}[name]


def tiny_dataset_entry(name, split):
    """The stock dataset entry of `split` of `name` as --tiny runs it (`tiny_config`)."""
    if name in STOCK_BASE_CONFIGS:
        import mmpretrain
        base = Path(mmpretrain.__file__).parent / '.mim' / 'configs' / '_base_' / 'datasets'
        cfg = Config.fromfile(base / STOCK_BASE_CONFIGS[name])
    else:
        pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
        dataset = dict(type=STOCK_TYPES[name], data_root=DOCUMENTED_ROOTS[name], split=split, pipeline=pipeline)
        cfg = Config(dict(train_dataloader=dict(dataset=dataset)))
    tiny_config(cfg)
    return next(cfg[key].dataset for key in ('train_dataloader', 'val_dataloader')
                if key in cfg and cfg[key].dataset.split == split)


def build_tiny_dataset(tiny, name, split):
    from mmengine.registry import DATASETS, DefaultScope
    entry = tiny_dataset_entry(name, split)
    assert entry.data_root.rstrip('/') == f'{TINY_DATA_ROOT}/{mtd.DATA_ROOTS[name]}'
    entry.data_root = str(tiny['roots'][name])
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return DATASETS.build(entry)


@pytest.mark.parametrize('name, split', [(name, split) for name, (splits, _, _) in CLASSIFICATION.items()
                                         for split in splits])
def test_classification_set_loads_in_mmpretrain_from_its_stock_config(tiny, name, split):
    from mmpretrain.datasets import CIFAR10
    dataset = build_tiny_dataset(tiny, name, split)
    counts, num_classes, size = CLASSIFICATION[name]
    if name == 'cifar10':  # the --tiny rule: the stock class without the md5 sums of the real files
        assert type(dataset).__name__ == 'TinyCIFAR10' and isinstance(dataset, CIFAR10) and not dataset.download
        assert pickle.loads(pickle.dumps(type(dataset))) is type(dataset)
    else:
        assert type(dataset).__name__ == STOCK_TYPES[name]
    assert len(dataset) == counts[split]
    labels = class_ids(name)
    labels_seen = Counter()
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        label = info['gt_label']
        assert 0 <= label < num_classes
        if name == 'cifar10':
            pixels = info['img']
        else:
            path = Path(info['img_path'])
            with Image.open(path) as image:
                assert image.mode == 'RGB'
                pixels = np.asarray(image)
        assert pixels.shape == (size[1], size[0], 3)
        if name == 'cub':
            assert path.parent.name == f'{label + 1:03d}.{dataset.CLASSES[label]}'
        elif name == 'pets':
            assert re.fullmatch(rf'{dataset.CLASSES[label]}_\d+\.jpg', path.name)
        elif name == 'flowers102':
            assert re.fullmatch(r'image_\d{5}\.jpg', path.name)
        _, color = mtd.class_look(labels.index(label))
        pixels = pixels.reshape(-1, 3)
        shape = pixels[saturation(pixels) >= 70]
        assert len(shape) > 0.05 * len(pixels)
        assert np.abs(shape.mean(0) - color).sum() < 40
        labels_seen[label] += 1
    assert labels_seen == dict.fromkeys(labels, counts[split] // len(labels))
    assert dataset[0]['inputs'].shape[0] == 3  # the tiny pipeline runs


@pytest.mark.parametrize('name', CLASSIFICATION)
def test_classification_splits_partition_the_images(tiny, name):
    def images(split):
        dataset = build_tiny_dataset(tiny, name, split)
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        return [info['img'].tobytes() if name == 'cifar10' else info['img_path'] for info in infos]

    splits = {split: images(split) for split in CLASSIFICATION[name][0]}
    if name == 'flowers102':
        assert sorted(splits.pop('trainval')) == sorted(splits['train'] + splits['val'])
    every = [image for split_images in splits.values() for image in split_images]
    assert len(set(every)) == len(every)
    if name != 'cifar10':
        assert {Path(path).name for path in every} == {p.name for p in tiny['roots'][name].rglob('*.jpg')}


def test_stock_cifar10_refuses_the_tiny_set(tiny):
    """Why --tiny swaps CIFAR10 for TinyCIFAR10: the stock class checks the md5 sums of the real files."""
    from mmpretrain.datasets import CIFAR10
    with pytest.raises(RuntimeError, match='Cannot find CIFAR10'):
        CIFAR10(data_root=str(tiny['roots']['cifar10']), split='test', download=False)


def test_cifar10_batches_are_pickled_as_the_real_ones(tiny):
    from mmpretrain.datasets.categories import CIFAR10_CATEGORIES
    folder = tiny['roots']['cifar10'] / 'cifar-10-batches-py'
    meta = pickle.loads((folder / 'batches.meta').read_bytes(), encoding='latin1')
    assert meta == {'num_cases_per_batch': 10, 'label_names': list(CIFAR10_CATEGORIES), 'num_vis': 3072}
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        batch = pickle.loads((folder / name).read_bytes(), encoding='latin1')
        count = 20 if name == 'test_batch' else 10
        assert sorted(batch) == ['batch_label', 'data', 'filenames', 'labels']
        assert batch['data'].dtype == np.uint8 and batch['data'].shape == (count, 3072)
        assert Counter(batch['labels']) == dict.fromkeys(range(10), count // 10)
        for label, filename in zip(batch['labels'], batch['filenames']):
            assert re.fullmatch(rf'{CIFAR10_CATEGORIES[label]}_s_\d{{6}}\.png', filename)


def test_pets_annotation_ids_follow_the_real_numbering(tiny):
    """class id: index in the 37 breeds; species 1 for cats (capitalized), 2 for dogs; breed id within species."""
    from mmpretrain.datasets.categories import OxfordIIITPet_CATEGORIES as breeds
    lines = [line.split() for split in ('trainval', 'test')
             for line in (tiny['roots']['pets'] / 'annotations' / f'{split}.txt').read_text().splitlines()]
    assert len(lines) == 25
    for stem, class_id, species, breed_id in lines:
        breed = breeds[int(class_id) - 1]
        assert re.fullmatch(rf'{breed}_\d+', stem)
        same_species = [b for b in breeds if b[0].isupper() == breed[0].isupper()]
        assert (int(species), int(breed_id)) == (1 if breed[0].isupper() else 2, same_species.index(breed) + 1)


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


@pytest.mark.parametrize('name, file', [
    ('imagenet', 'meta/val.txt'), ('cifar10', 'cifar-10-batches-py/batches.meta'), ('cub', 'images.txt'),
    ('pets', 'annotations/test.txt'), ('flowers102', 'setid.mat')])
def test_complete_datasets_are_skipped_unless_forced_or_incomplete(tmp_path, name, file):
    folder = mtd.unit_folder(name)
    path = Path(mtd.make_tiny_data(str(tmp_path), only=[name])[name]) / file
    original = path.read_bytes()
    path.write_bytes(b'edited')
    mtd.make_tiny_data(str(tmp_path), only=[name])
    assert path.read_bytes() == b'edited'
    mtd.make_tiny_data(str(tmp_path), only=[name], force=True)
    assert path.read_bytes() == original
    path.write_bytes(b'edited')
    (tmp_path / folder / '.complete').unlink()
    mtd.make_tiny_data(str(tmp_path), only=[name])
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == [folder]


@pytest.mark.parametrize('built, fresh', [('imagenet', 'coco'), ('cub', 'pets'), ('flowers102', 'cifar10')])
def test_failed_build_leaves_no_partial_dataset(tmp_path, monkeypatch, built, fresh):
    def interrupted(root, rng):
        Path(root, 'half.txt').write_text('half')
        raise KeyboardInterrupt

    mtd.make_tiny_data(str(tmp_path), only=[built])
    before = sha256_tree(tmp_path)
    monkeypatch.setitem(mtd.BUILDERS, fresh, interrupted)
    monkeypatch.setitem(mtd.BUILDERS, built, interrupted)
    with pytest.raises(KeyboardInterrupt):
        mtd.make_tiny_data(str(tmp_path), only=[fresh])
    with pytest.raises(KeyboardInterrupt):
        mtd.make_tiny_data(str(tmp_path), only=[built], force=True)
    assert os.listdir(tmp_path) == [mtd.unit_folder(built)]
    assert sha256_tree(tmp_path) == before


def test_unknown_dataset_name_raises(tmp_path):
    with pytest.raises(ValueError, match='cityscapes'):
        mtd.make_tiny_data(str(tmp_path / 'out'), only=['coco', 'cityscapes'])
    assert not (tmp_path / 'out').exists()


def test_cli_only_builds_the_named_datasets(tmp_path):
    out = tmp_path / 'tiny'
    result = run_cli('--out', str(out), '--only', 'market1501', 'ade', 'cub')
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == ['CUB_200_2011', 'ade', 'market1501']
    assert f"ade: {out / 'ade' / 'ADEChallengeData2016'}" in result.stdout.splitlines()
    assert f"cub: {out / 'CUB_200_2011'}" in result.stdout.splitlines()


@pytest.mark.parametrize('args, word', [(['--only', 'cityscapes'], 'cityscapes'), (['--only'], '--only'),
                                        (['--bogus'], '--bogus')])
def test_cli_bad_arguments_fail_with_one_line(tmp_path, args, word):
    result = run_cli('--out', str(tmp_path / 'tiny'), *args)
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1 and 'error' in result.stderr and word in result.stderr
    assert os.listdir(tmp_path) == []


def test_fashion_mnist_idx_files_load_in_mmpretrain(tiny):
    from mmpretrain.datasets import FashionMNIST
    root = str(tiny['roots']['fashion_mnist'])
    train = FashionMNIST(data_root=root, download=False, test_mode=False)
    test = FashionMNIST(data_root=root, download=False, test_mode=True)
    assert (len(train), len(test)) == (20, 10)
    assert sorted(int(train.get_data_info(i)['gt_label']) for i in range(20)) == sorted(list(range(10)) * 2)
    image = train.get_data_info(0)['img']
    assert image.shape == (28, 28) and image.dtype == np.uint8 and image.std() > 10
