"""Make tiny, deterministic datasets in the on-disk formats of the paper's detection, segmentation, re-id and
classification sets: COCO, ADE20K, Market-1501, DukeMTMC-reID, CUHK03, MSMT17, VehicleID, ImageNet, CIFAR-10,
CUB-200-2011, Oxford-IIIT Pet, Flowers-102.

Every full-scale config runs on CPU once its data root `data/X` is mapped to `data/tiny/X`. Images are
legible scenes: 2-4 saturated shapes (regular polygons; a "circle" is a 24-gon) on a light gradient
background with mild Gaussian noise, never overlapping, so every annotation is exact. Layout under --out:

  coco/                  train2017/*.jpg (24), val2017/*.jpg (8), unlabeled2017/*.jpg (8, no annotation),
                         128x96 (WxH), file names %012d.jpg;
                         annotations/instances_{train,val}2017.json: all 80 COCO categories with their real
                         ids (1..90 minus 12 26 29 30 45 66 68 69 71 83), one polygon per instance,
                         bbox = tight box of the polygon, area = polygon area, iscrowd 0.
                         circle -> 'sports ball' (37), square -> 'tv' (72), triangle -> 'kite' (38).
  ade/ADEChallengeData2016/
                         images/{training,validation}/ADE_{train,val}_%08d.jpg (24 / 8), 128x128;
                         annotations/... same stems, .png, uint8 (0 = other, 1..150 = ADE class + 1):
                         rows < 80: 1 'wall', rows >= 80: 4 'floor', circle 120 'ball', square 42 'box',
                         triangle 115 'tent'; each shape has a 1-pixel outline of 0 (unlabelled edge).
  imagenet/              train/<wnid>/<wnid>_<n>.JPEG (8 per class), val/ILSVRC2012_val_%08d.JPEG (3 per
                         class, flat), meta/{train,val}.txt lines "<path relative to split> <label>", 64x64.
                         Five real ImageNet-1k classes, each one shape of one color (IMAGENET_CLASSES).
  market1501/Market-1501-v15.09.15/
                         bounding_box_train (24), query (8), bounding_box_test (30), 128x64 (HxW) person
                         figures (head, torso, legs; shirt/pants colors identify the person, the camera sets
                         the background), names PPPP_cCsS_FFFFFF_NN.jpg. Train ids 2 7 10 11, test ids
                         1 3 4 5; each test id: one query from each of 2 cameras, 2 gallery images from each
                         of 3 cameras (query cameras included). bounding_box_test also holds 3 distractors
                         (id 0000: false detections, background with shapes) and 3 junk images (id -1:
                         badly cropped persons), as in the real set.
  dukemtmc-reid/DukeMTMC-reID/
                         Market-1501's folders, people and shots (train ids 5 9 12 20, test ids 1 3 4 8) from 8
                         cameras, names PPPP_cC_fFFFFFFF.jpg; no junk or distractors.
  cuhk03/cuhk03-np/{labeled,detected}/
                         Market-1501's folders (train ids 1 2 5 6, test ids 3 4 7 9), the 2 cameras of a pair,
                         names PPPP_cC_N.png; the same people in both, detected figures 6 px off-centre.
  msmt17/MSMT17_V1/      train/ and test/<PPPP>/<PPPP>_<n>_<CC>_0303morning_<n>_<k>.jpg (CC: camera 1-15),
                         list_{train,val,query,gallery}.txt "<path> <pid>", ids 0-3 in train and (other
                         people) in test; each train id's last image is listed in list_val.
  vehicleid/VehicleID_V1.0/
                         image/<7 digits>.jpg, 96x96 side views of cars (body and cabin colors identify the
                         vehicle); train_test_split/train_list.txt (4 vehicles x 4 images), test_list_800 /
                         _1600 / _2400.txt (4 / 6 / 8 vehicles x 3 images, nested), lines "<name> <vehicle id>".
  fashion_mnist/         {train,t10k}-{images-idx3,labels-idx1}-ubyte: the unpacked IDX files that mmpretrain's
                         FashionMNIST reads, 28x28 grey images of class_look shapes, 2 train / 1 test per class.

The classification sets below draw each image as ImageNet's do: one shape on a light gradient, the shape
and color naming the class (`class_look`: the k-th class of a set is the k-th shape of SHAPES and the k-th
color of PALETTE, cyclically), with the real class ids of a few classes, so labels match the full heads.
  cifar10/cifar-10-batches-py/
                         data_batch_1..5 (10 images each, one per class), test_batch (20, two per class),
                         batches.meta: python pickles (protocol 2) as the real set's: {'batch_label', 'labels'
                         (0..9), 'data' (N x 3072 uint8, R, G then B planes of 32x32 images), 'filenames'} and
                         {'num_cases_per_batch', 'label_names' (the 10 real classes), 'num_vis': 3072}.
                         mmpretrain's CIFAR10 checks the md5 sums of the real files: --tiny reads these with
                         TinyCIFAR10 (mmdenoiserep/datasets/tiny_cifar.py).
  CUB_200_2011/          images/<id:03d>.<name>/<name>_<n:04d>_<image id>.jpg, 96x72 (WxH), 5 per class (3
                         train, 2 test); images.txt "<image id> <path>", image_class_labels.txt "<image id>
                         <class id>", train_test_split.txt "<image id> <1 train | 0 test>", classes.txt
                         "<class id> <folder>" (the classes present); 1-based ids, CUB_CLASSES (real ids).
  Oxford-IIIT_Pets/      images/<breed>_<n>.jpg, 72x96 (WxH), 5 per breed; annotations/{trainval,test}.txt (3 / 2
                         per breed) lines "<stem> <class id 1..37> <species 1 cat | 2 dog> <breed id>" as in
                         the real set (PETS_CLASSES; cat breeds capitalized).
  Flowers102/            jpg/image_%05d.jpg, 80x64 (WxH), 6 per class; imagelabels.mat 'labels' (1 x N uint8, the
                         1-based class of each 1-based image id), setid.mat 'trnid', 'valid', 'tstid' (1 x n
                         uint16 image ids, 2 per class each), FLOWERS_CLASSES; written with scipy.io.savemat
                         (fixed header text) and read by mmpretrain with mat4py.

Each dataset is built in a hidden temp folder next to its target and renamed into place after its
`.complete` marker (holding VERSION) is written; a complete dataset of the current VERSION is skipped
unless forced. Same VERSION, same Pillow -> byte-identical files.

Usage: python tools/make_tiny_data.py [--out data/tiny] [--force] [--only NAME ...]
NAME: coco ade imagenet market1501 cifar10 cub pets flowers102 dukemtmc cuhk03 msmt17 vehicleid fashion_mnist
"""
import argparse
import io
import json
import math
import os
import pickle
import shutil
import time

import numpy as np
from PIL import Image, ImageDraw

VERSION = 'mmdenoiserep-tiny-data 2'
MARKER = '.complete'
JPEG_QUALITY = 90
NOISE_SIGMA = 4.0

# (number of vertices, rotation in degrees) of the regular polygon that draws each shape.
SHAPES = {'circle': (24, 0), 'square': (4, 45), 'triangle': (3, -90), 'diamond': (4, 0), 'hexagon': (6, 0)}
PALETTE = [(220, 40, 40), (40, 160, 60), (40, 80, 220), (240, 190, 20), (150, 50, 190), (20, 180, 190),
           (240, 120, 20), (140, 70, 20)]
# (top, bottom) colors of the light background gradients; Market-1501 camera c uses entry c - 1.
BACKGROUNDS = [((235, 235, 225), (190, 195, 205)), ((215, 230, 240), (200, 200, 185)),
               ((240, 225, 210), (185, 190, 180)), ((225, 225, 235), (205, 190, 190)),
               ((205, 225, 205), (225, 225, 200)), ((240, 240, 240), (175, 175, 175))]

COCO_SUPERCATEGORIES = [
    ('person', ['person']),
    ('vehicle', ['bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat']),
    ('outdoor', ['traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench']),
    ('animal', ['bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe']),
    ('accessory', ['backpack', 'umbrella', 'handbag', 'tie', 'suitcase']),
    ('sports', ['frisbee', 'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove',
                'skateboard', 'surfboard', 'tennis racket']),
    ('kitchen', ['bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl']),
    ('food', ['banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut',
              'cake']),
    ('furniture', ['chair', 'couch', 'potted plant', 'bed', 'dining table', 'toilet']),
    ('electronic', ['tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone']),
    ('appliance', ['microwave', 'oven', 'toaster', 'sink', 'refrigerator']),
    ('indoor', ['book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush'])]
COCO_MISSING_IDS = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}
COCO_SHAPE_CLASSES = {'circle': 'sports ball', 'square': 'tv', 'triangle': 'kite'}

ADE_WALL, ADE_FLOOR = 1, 4
FLOOR_COLOR = (190, 175, 150)
ADE_SHAPE_VALUES = {'circle': 120, 'square': 42, 'triangle': 115}  # 'ball', 'box', 'tent'

# (wnid, ImageNet-1k index, first name, shape, color) of the classification classes.
IMAGENET_CLASSES = [('n01440764', 0, 'tench', 'circle', PALETTE[0]),
                    ('n01443537', 1, 'goldfish', 'square', PALETTE[1]),
                    ('n01518878', 9, 'ostrich', 'triangle', PALETTE[2]),
                    ('n01531178', 11, 'goldfinch', 'diamond', PALETTE[3]),
                    ('n01558993', 15, 'robin', 'hexagon', PALETTE[4])]

MARKET_TRAIN_IDS = (2, 7, 10, 11)
MARKET_TEST_IDS = (1, 3, 4, 5)
MARKET_SIZE = (64, 128)  # (W, H), Pillow order
DUKE_TRAIN_IDS, DUKE_TEST_IDS = (5, 9, 12, 20), (1, 3, 4, 8)
CUHK03_TRAIN_IDS, CUHK03_TEST_IDS = (1, 2, 5, 6), (3, 4, 7, 9)
MSMT17_TRAIN_IDS, MSMT17_TEST_IDS = (0, 1, 2, 3), (0, 1, 2, 3)  # separate id spaces, as the real lists
VEHICLE_SIZE = (96, 96)
VEHICLE_TRAIN_IDS, VEHICLE_TEST_IDS = (2, 5, 9, 14), (1, 3, 4, 6, 7, 8, 10, 11)
VEHICLE_TEST_LISTS = {800: 4, 1600: 6, 2400: 8}  # test_size -> number of test vehicles in the tiny list

CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')
# (class id, name) of CUB-200-2011 classes, ids as in the real set (labels id - 1 < 200).
CUB_CLASSES = [(1, 'Black_footed_Albatross'), (17, 'Cardinal'), (47, 'American_Goldfinch'), (73, 'Blue_Jay'),
               (200, 'Common_Yellowthroat')]
# (class id, breed, species: 1 cat / 2 dog, breed id within the species) of Oxford-IIIT Pet classes.
PETS_CLASSES = [(1, 'Abyssinian', 1, 1), (2, 'american_bulldog', 2, 1), (12, 'Egyptian_Mau', 1, 6),
                (26, 'pug', 2, 18), (37, 'yorkshire_terrier', 2, 25)]
FLOWERS_CLASSES = (1, 18, 51, 77, 102)  # 1-based Flowers-102 labels

# Data root of each dataset relative to --out, as `data/<root>` in the stock configs (`--tiny` maps `data/` to
# `data/tiny/`); its first folder is the unit that is built and replaced at once.
DATA_ROOTS = {'coco': 'coco', 'ade': 'ade/ADEChallengeData2016', 'imagenet': 'imagenet',
              'market1501': 'market1501/Market-1501-v15.09.15', 'cifar10': 'cifar10', 'cub': 'CUB_200_2011',
              'pets': 'Oxford-IIIT_Pets', 'flowers102': 'Flowers102', 'dukemtmc': 'dukemtmc-reid/DukeMTMC-reID',
              'cuhk03': 'cuhk03/cuhk03-np', 'msmt17': 'msmt17/MSMT17_V1', 'vehicleid': 'vehicleid/VehicleID_V1.0',
              'fashion_mnist': 'fashion_mnist'}
SEEDS = {'coco': 1, 'ade': 2, 'imagenet': 3, 'market1501': 4, 'cifar10': 5, 'cub': 6, 'pets': 7, 'flowers102': 8,
         'dukemtmc': 9, 'cuhk03': 10, 'msmt17': 11, 'vehicleid': 12, 'fashion_mnist': 13}


# ---------------------------------------------------------------- shared drawing helpers

def gradient_background(size, rng, style=None):
    """An RGB image with the vertical gradient BACKGROUNDS[style] (a random one if style is None)."""
    style = rng.integers(len(BACKGROUNDS)) if style is None else style
    top, bottom = (np.array(c, dtype=np.float64) for c in BACKGROUNDS[style])
    t = np.linspace(0.0, 1.0, size[1])[:, None, None]
    rows = top * (1 - t) + bottom * t
    return Image.fromarray(np.broadcast_to(rows, (size[1], size[0], 3)).round().astype(np.uint8))


def add_noise(image, rng):
    noise = rng.normal(0.0, NOISE_SIGMA, (image.height, image.width, 3))
    pixels = np.asarray(image, dtype=np.float64) + noise
    return Image.fromarray(pixels.clip(0, 255).round().astype(np.uint8))


def shape_polygon(kind, cx, cy, radius):
    """Vertices [(x, y), ...] of `kind` (a SHAPES key) inscribed in the circle (cx, cy, radius)."""
    n, rotation = SHAPES[kind]
    angles = [math.radians(rotation) + 2 * math.pi * k / n for k in range(n)]
    return [(round(cx + radius * math.cos(a), 2), round(cy + radius * math.sin(a), 2)) for a in angles]


def layout_shapes(rng, size, grid, kinds):
    """2-4 shapes of distinct colors, one per random cell of a (cols, rows) grid: [(kind, polygon, color)]."""
    cols, rows = grid
    cell_w, cell_h = size[0] / cols, size[1] / rows
    n = int(rng.integers(2, min(4, cols * rows) + 1))
    cells = sorted(rng.choice(cols * rows, n, replace=False).tolist())
    colors = rng.choice(len(PALETTE), n, replace=False).tolist()
    shapes = []
    for cell, color in zip(cells, colors):
        radius = min(cell_w, cell_h) * rng.uniform(0.3, 0.45)
        cx = (cell % cols + 0.5) * cell_w + rng.uniform(-1, 1) * (cell_w / 2 - radius - 2)
        cy = (cell // cols + 0.5) * cell_h + rng.uniform(-1, 1) * (cell_h / 2 - radius - 2)
        kind = kinds[rng.integers(len(kinds))]
        shapes.append((kind, shape_polygon(kind, cx, cy, radius), PALETTE[color]))
    return shapes


def draw_scene(rng, background, grid, kinds):
    """layout_shapes drawn on a copy of `background`, plus noise; returns (image, shapes)."""
    image = background.copy()
    shapes = layout_shapes(rng, image.size, grid, kinds)
    draw = ImageDraw.Draw(image)
    for _, polygon, color in shapes:
        draw.polygon(polygon, fill=color)
    return add_noise(image, rng), shapes


def class_look(k):
    """(kind, color) of the k-th class of a classification set: distinct for the first 40 classes."""
    return list(SHAPES)[k % len(SHAPES)], PALETTE[k % len(PALETTE)]


def draw_object(rng, size, kind, color):
    """One shape on a random background gradient, its radius 28-41% of the shorter side, plus noise."""
    width, height = size
    image = gradient_background(size, rng)
    radius = rng.uniform(min(size) * 18 / 64, min(size) * 26 / 64)
    cx = width / 2 + rng.uniform(-1, 1) * (width / 2 - 2 - radius)
    cy = height / 2 + rng.uniform(-1, 1) * (height / 2 - 2 - radius)
    ImageDraw.Draw(image).polygon(shape_polygon(kind, cx, cy, radius), fill=color)
    return add_noise(image, rng)


def save_image(image, path):
    """Save as PNG (label maps) or JPEG at a fixed quality, by the extension of `path`."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if path.endswith('.png'):
        image.save(path, format='PNG')
    else:
        image.save(path, format='JPEG', quality=JPEG_QUALITY)


def write_text(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


def mat_file(variables):
    """MATLAB 5 file bytes (scipy.io.savemat; 1-D arrays become 1 x N) with a fixed header text, not a date."""
    from scipy.io import savemat
    buffer = io.BytesIO()
    savemat(buffer, variables)
    header = f'MATLAB 5.0 MAT-file, written by {VERSION}'.encode('ascii').ljust(116)
    return header + buffer.getvalue()[len(header):]


def polygon_area(polygon):
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1]))) / 2


# ---------------------------------------------------------------- datasets

def coco_categories():
    ids = [i for i in range(1, 91) if i not in COCO_MISSING_IDS]
    names = [(sup, name) for sup, group in COCO_SUPERCATEGORIES for name in group]
    return [dict(id=i, name=name, supercategory=sup) for i, (sup, name) in zip(ids, names)]


def make_coco(root, rng):
    size, categories = (128, 96), coco_categories()
    category_ids = {c['name']: c['id'] for c in categories}
    image_id = annotation_id = 0
    for split, count in (('train2017', 24), ('val2017', 8)):
        images, annotations = [], []
        for _ in range(count):
            image_id += 1
            background = gradient_background(size, rng)
            image, shapes = draw_scene(rng, background, (3, 2), sorted(COCO_SHAPE_CLASSES))
            file_name = f'{image_id:012d}.jpg'
            save_image(image, os.path.join(root, split, file_name))
            images.append(dict(id=image_id, file_name=file_name, width=size[0], height=size[1]))
            for kind, polygon, _ in shapes:
                annotation_id += 1
                xs, ys = [x for x, _ in polygon], [y for _, y in polygon]
                bbox = [min(xs), min(ys), round(max(xs) - min(xs), 2), round(max(ys) - min(ys), 2)]
                annotations.append(dict(
                    id=annotation_id, image_id=image_id, category_id=category_ids[COCO_SHAPE_CLASSES[kind]],
                    bbox=bbox, area=round(polygon_area(polygon), 2), iscrowd=0,
                    segmentation=[[v for point in polygon for v in point]]))
        content = dict(info=dict(description='tiny COCO-format data', version=VERSION), licenses=[],
                       images=images, annotations=annotations, categories=categories)
        json_path = os.path.join(root, 'annotations', f'instances_{split}.json')
        write_text(json_path, json.dumps(content, sort_keys=True))
    for _ in range(8):  # unlabeled2017: images only (label-free DenoiseRep)
        image_id += 1
        image, _ = draw_scene(rng, gradient_background(size, rng), (3, 2), sorted(COCO_SHAPE_CLASSES))
        save_image(image, os.path.join(root, 'unlabeled2017', f'{image_id:012d}.jpg'))


def make_ade(root, rng):
    size, horizon = (128, 128), 80
    for split, prefix, count in (('training', 'train', 24), ('validation', 'val', 8)):
        for i in range(1, count + 1):
            background = gradient_background(size, rng)
            ImageDraw.Draw(background).rectangle([0, horizon, size[0], size[1]], fill=FLOOR_COLOR)
            image, shapes = draw_scene(rng, background, (2, 2), sorted(ADE_SHAPE_VALUES))
            labels = np.full((size[1], size[0]), ADE_WALL, dtype=np.uint8)
            labels[horizon:] = ADE_FLOOR
            label_map = Image.fromarray(labels)
            draw = ImageDraw.Draw(label_map)
            for kind, polygon, _ in shapes:
                draw.polygon(polygon, fill=ADE_SHAPE_VALUES[kind], outline=0)
            stem = f'ADE_{prefix}_{i:08d}'
            save_image(image, os.path.join(root, 'images', split, stem + '.jpg'))
            save_image(label_map, os.path.join(root, 'annotations', split, stem + '.png'))


def make_imagenet(root, rng):
    """One centred-ish shape per image; train/<wnid>/ folders, flat val/, meta/<split>.txt lists."""
    train_lines = []
    for wnid, label, _, kind, color in IMAGENET_CLASSES:
        for n in range(1, 9):
            path = f'{wnid}/{wnid}_{n}.JPEG'
            save_image(draw_object(rng, (64, 64), kind, color), os.path.join(root, 'train', path))
            train_lines.append(f'{path} {label}\n')
    val_classes = [c for c in IMAGENET_CLASSES for _ in range(3)]
    val_lines = []
    for i, index in enumerate(rng.permutation(len(val_classes)).tolist(), start=1):
        _, label, _, kind, color = val_classes[index]
        path = f'ILSVRC2012_val_{i:08d}.JPEG'
        save_image(draw_object(rng, (64, 64), kind, color), os.path.join(root, 'val', path))
        val_lines.append(f'{path} {label}\n')
    write_text(os.path.join(root, 'meta', 'train.txt'), ''.join(train_lines))
    write_text(os.path.join(root, 'meta', 'val.txt'), ''.join(val_lines))


def draw_person(rng, cam, shirt, pants, shift=0.0):
    """A 64x128 crop from camera `cam` of a figure (head, torso with arms, legs), `shift` px aside."""
    image = gradient_background(MARKET_SIZE, rng, style=(cam - 1) % len(BACKGROUNDS))
    draw = ImageDraw.Draw(image)
    x = 32 + shift + rng.uniform(-4, 4)
    top = rng.uniform(6, 12)
    draw.polygon(shape_polygon('circle', x, top + 10, 9), fill=(230, 190, 160))
    draw.rectangle([x - 13, top + 21, x + 13, top + 62], fill=shirt)
    draw.rectangle([x - 19, top + 23, x - 15, top + 56], fill=shirt)
    draw.rectangle([x + 15, top + 23, x + 19, top + 56], fill=shirt)
    for left in (x - 12, x + 1):
        draw.rectangle([left, top + 62, left + 11, top + 108], fill=pants)
    return add_noise(image, rng)


def draw_vehicle(rng, body, roof):
    """A 96x96 side view of a car (body, cabin, two wheels) on a random background, a few px aside."""
    image = gradient_background(VEHICLE_SIZE, rng)
    draw = ImageDraw.Draw(image)
    x, y = 48 + rng.uniform(-5, 5), 60 + rng.uniform(-5, 5)
    draw.rectangle([x - 40, y - 14, x + 40, y + 12], fill=body)
    draw.polygon([(x - 24, y - 14), (x - 14, y - 34), (x + 18, y - 34), (x + 28, y - 14)], fill=roof)
    for cx in (x - 24, x + 24):
        draw.polygon(shape_polygon('circle', cx, y + 14, 9), fill=(40, 40, 40))
    return add_noise(image, rng)


def color_pairs(rng, count):
    """`count` distinct (first, second) PALETTE color pairs: the look of re-id identities."""
    pairs = [(a, b) for a in range(len(PALETTE)) for b in range(len(PALETTE)) if a != b]
    return [[PALETTE[c] for c in pairs[k]] for k in rng.choice(len(pairs), count, replace=False).tolist()]


def person_shots(rng, train_ids, test_ids, cameras, outfits=None, shift=0.0):
    """[(role, pid, camera, image)] of a person re-id set; role 'train', 'query' or 'gallery'.

    Each identity is seen by min(3, len(cameras)) random cameras: a train id in 2 images per camera; a test
    id in one query from each of its first 2 cameras and 2 gallery images per camera (so every query has a
    gallery match from another camera). Train and test ids may share numbers (separate id spaces).
    `outfits` (one color pair per train then test id) default to fresh ones; `shift` moves figures aside.
    """
    people = [('train', pid) for pid in train_ids] + [('test', pid) for pid in test_ids]
    outfits = color_pairs(rng, len(people)) if outfits is None else outfits
    shots = []
    for (split, pid), outfit in zip(people, outfits):
        cams = sorted(rng.choice(np.asarray(cameras), min(3, len(cameras)), replace=False).tolist())
        if split == 'train':
            roles = [('train', cam) for cam in cams for _ in range(2)]
        else:
            roles = [('query', cam) for cam in cams[:2]] + [('gallery', cam) for cam in cams for _ in range(2)]
        shots += [(role, pid, cam, draw_person(rng, cam, *outfit, shift=shift)) for role, cam in roles]
    return shots


MARKET_FOLDERS = {'train': 'bounding_box_train', 'query': 'query', 'gallery': 'bounding_box_test'}


def make_market1501(root, rng):
    """Train ids: 2 images x 3 cameras; test ids: a query from 2 cameras, 2 gallery images x 3 cameras."""
    frames = dict.fromkeys(range(1, 7), 0)

    def save(folder, pid, cam, image):
        frames[cam] += 1
        pid_text = '-1' if pid == -1 else f'{pid:04d}'
        frame = frames[cam]
        name = f'{pid_text}_c{cam}s{1 + frame // 8}_{25 * frame + 1:06d}_{frame % 4:02d}.jpg'
        save_image(image, os.path.join(root, folder, name))

    for role, pid, cam, image in person_shots(rng, MARKET_TRAIN_IDS, MARKET_TEST_IDS, range(1, 7)):
        save(MARKET_FOLDERS[role], pid, cam, image)
    for _ in range(3):
        cam = int(rng.integers(1, 7))
        distractor, _ = draw_scene(rng, gradient_background(MARKET_SIZE, rng, cam - 1), (1, 2), ['circle'])
        save('bounding_box_test', 0, cam, distractor)
        cam = int(rng.integers(1, 7))
        shirt, pants = (PALETTE[c] for c in rng.choice(len(PALETTE), 2, replace=False).tolist())
        junk = draw_person(rng, cam, shirt, pants, shift=float(rng.choice([-28, 28])))
        save('bounding_box_test', -1, cam, junk)


def make_dukemtmc(root, rng):
    """Market-1501's layout, names PPPP_cC_fFFFFFFF.jpg, 8 cameras; no junk or distractor images."""
    for n, (role, pid, cam, image) in enumerate(person_shots(rng, DUKE_TRAIN_IDS, DUKE_TEST_IDS, range(1, 9))):
        save_image(image, os.path.join(root, MARKET_FOLDERS[role], f'{pid:04d}_c{cam}_f{40 * n + 7:07d}.jpg'))


def make_cuhk03(root, rng):
    """cuhk03-np: labeled/ and detected/ (the same people, detected boxes off-centre), each in Market-1501's
    layout with names PPPP_cC_N.png; the 2 cameras of a camera pair."""
    outfits = color_pairs(rng, len(CUHK03_TRAIN_IDS) + len(CUHK03_TEST_IDS))
    for variant, shift in (('labeled', 0.0), ('detected', 6.0)):
        shots = person_shots(rng, CUHK03_TRAIN_IDS, CUHK03_TEST_IDS, (1, 2), outfits, shift)
        for n, (role, pid, cam, image) in enumerate(shots):
            save_image(image, os.path.join(root, variant, MARKET_FOLDERS[role], f'{pid:04d}_c{cam}_{n + 1}.png'))


def make_msmt17(root, rng):
    """MSMT17_V1: train/ and test/ folders of <pid>/<pid>_<frame>_<camera>_<time>_<n>_<k>.jpg and the lists
    list_{train,val,query,gallery}.txt ("<path> <pid>"); train and test ids are separate spaces from 0; the
    last image of each train id is in list_val (both lists are training data)."""
    lists = {name: [] for name in ('train', 'val', 'query', 'gallery')}
    shots = person_shots(rng, MSMT17_TRAIN_IDS, MSMT17_TEST_IDS, range(1, 16))
    for n, (role, pid, cam, image) in enumerate(shots):
        path = f'{pid:04d}/{pid:04d}_{n:03d}_{cam:02d}_0303morning_{n + 15:04d}_{n % 3}.jpg'
        save_image(image, os.path.join(root, 'train' if role == 'train' else 'test', path))
        lists[role].append(f'{path} {pid}\n')
    for pid in MSMT17_TRAIN_IDS:  # move each train id's last image to list_val
        last = max(i for i, line in enumerate(lists['train']) if line.endswith(f' {pid}\n'))
        lists['val'].append(lists['train'].pop(last))
    for name, lines in lists.items():
        write_text(os.path.join(root, f'list_{name}.txt'), ''.join(lines))


def make_vehicleid(root, rng):
    """VehicleID_V1.0: image/<7-digit name>.jpg (96x96); train_test_split/train_list.txt and test_list_{800,
    1600,2400}.txt ("<name> <vehicle id>"): 4 train vehicles x 4 images, test lists of 4, 6 and 8 vehicles
    (each list contains the smaller one) x 3 images."""
    vehicles = [(vid, 4, 'train') for vid in VEHICLE_TRAIN_IDS] + [(vid, 3, 'test') for vid in VEHICLE_TEST_IDS]
    names = iter((rng.permutation(sum(count for _, count, _ in vehicles)) * 37 + 1021).tolist())
    lines = {'train': [], 'test': []}
    for (vid, count, split), colors in zip(vehicles, color_pairs(rng, len(vehicles))):
        for _ in range(count):
            name = f'{next(names):07d}'
            save_image(draw_vehicle(rng, *colors), os.path.join(root, 'image', name + '.jpg'))
            lines[split].append((vid, f'{name} {vid}\n'))
    write_text(os.path.join(root, 'train_test_split', 'train_list.txt'), ''.join(line for _, line in lines['train']))
    for size, count in VEHICLE_TEST_LISTS.items():
        chosen = set(VEHICLE_TEST_IDS[:count])
        text = ''.join(line for vid, line in lines['test'] if vid in chosen)
        write_text(os.path.join(root, 'train_test_split', f'test_list_{size}.txt'), text)


def make_cifar10(root, rng):
    """The python version's pickled batches: 5 train batches of one image per class, a test batch of 2."""
    numbers = dict.fromkeys(range(len(CIFAR10_CLASSES)), 0)

    def batch(name, labels, batch_label):
        rows, filenames = [], []
        for label in labels:
            image = draw_object(rng, (32, 32), *class_look(label))
            rows.append(np.asarray(image).transpose(2, 0, 1).reshape(-1))  # R, G, B planes
            numbers[label] += 1
            filenames.append(f'{CIFAR10_CLASSES[label]}_s_{numbers[label]:06d}.png')
        entry = {'batch_label': batch_label, 'labels': labels, 'data': np.stack(rows), 'filenames': filenames}
        write_bytes(os.path.join(root, 'cifar-10-batches-py', name), pickle.dumps(entry, protocol=2))

    classes = np.arange(len(CIFAR10_CLASSES))
    for i in range(1, 6):
        batch(f'data_batch_{i}', rng.permutation(classes).tolist(), f'training batch {i} of 5')
    batch('test_batch', rng.permutation(np.repeat(classes, 2)).tolist(), 'testing batch 1 of 1')
    meta = {'num_cases_per_batch': len(classes), 'label_names': list(CIFAR10_CLASSES), 'num_vis': 3072}
    write_bytes(os.path.join(root, 'cifar-10-batches-py', 'batches.meta'), pickle.dumps(meta, protocol=2))


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX format of (Fashion-)MNIST: zero bytes, the uint8 type code 0x08, the number of dimensions,
    each dimension as a big-endian int32, then the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b''.join(int(d).to_bytes(4, 'big') for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_fashion_mnist(root, rng):
    """The four unpacked IDX files (28x28 grey images, labels 0..9): 2 train and 1 test image per class."""
    for prefix, per_class in (('train', 2), ('t10k', 1)):
        labels = rng.permutation(np.repeat(np.arange(10), per_class))
        images = np.stack([np.asarray(draw_object(rng, (28, 28), *class_look(int(k))).convert('L')) for k in labels])
        write_bytes(os.path.join(root, f'{prefix}-images-idx3-ubyte'), idx_bytes(images))
        write_bytes(os.path.join(root, f'{prefix}-labels-idx1-ubyte'), idx_bytes(labels))


def make_cub(root, rng):
    """Class folders of images; 1-based image and class ids in the txt files, 3 of 5 images per class train."""
    images, labels, splits = [], [], []
    for k, (class_id, name) in enumerate(CUB_CLASSES):
        train = rng.choice(5, 3, replace=False).tolist()
        for n in range(5):
            image_id = len(images) + 1
            path = f'{class_id:03d}.{name}/{name}_{n + 1:04d}_{image_id}.jpg'
            save_image(draw_object(rng, (96, 72), *class_look(k)), os.path.join(root, 'images', path))
            images.append(f'{image_id} {path}\n')
            labels.append(f'{image_id} {class_id}\n')
            splits.append(f'{image_id} {int(n in train)}\n')
    write_text(os.path.join(root, 'images.txt'), ''.join(images))
    write_text(os.path.join(root, 'image_class_labels.txt'), ''.join(labels))
    write_text(os.path.join(root, 'train_test_split.txt'), ''.join(splits))
    write_text(os.path.join(root, 'classes.txt'), ''.join(f'{i} {i:03d}.{name}\n' for i, name in CUB_CLASSES))


def make_pets(root, rng):
    """Flat images/; annotations/{trainval,test}.txt with class, species and breed ids, 2 of 5 per breed test."""
    lines = {'trainval': [], 'test': []}
    for k, (class_id, breed, species, breed_id) in enumerate(PETS_CLASSES):
        test = rng.choice(5, 2, replace=False).tolist()
        for n in range(5):
            stem = f'{breed}_{n + 1}'
            save_image(draw_object(rng, (72, 96), *class_look(k)), os.path.join(root, 'images', stem + '.jpg'))
            lines['test' if n in test else 'trainval'].append(f'{stem} {class_id} {species} {breed_id}\n')
    for split, split_lines in lines.items():
        write_text(os.path.join(root, 'annotations', f'{split}.txt'), ''.join(split_lines))


def make_flowers102(root, rng):
    """jpg/image_%05d.jpg numbered across classes at random; labels and split ids in .mat files, 1-based."""
    splits, per_split = {'trnid': [], 'valid': [], 'tstid': []}, 2
    image_ids = iter((rng.permutation(len(FLOWERS_CLASSES) * len(splits) * per_split) + 1).tolist())
    classes = {}  # image id -> index in FLOWERS_CLASSES
    for k in range(len(FLOWERS_CLASSES)):
        for ids in splits.values():
            for _ in range(per_split):
                ids.append(next(image_ids))
                classes[ids[-1]] = k
    for image_id in sorted(classes):
        image = draw_object(rng, (80, 64), *class_look(classes[image_id]))
        save_image(image, os.path.join(root, 'jpg', f'image_{image_id:05d}.jpg'))
    labels = np.array([FLOWERS_CLASSES[classes[i]] for i in sorted(classes)], dtype=np.uint8)
    write_bytes(os.path.join(root, 'imagelabels.mat'), mat_file({'labels': labels}))
    write_bytes(os.path.join(root, 'setid.mat'),
                mat_file({key: np.array(ids, dtype=np.uint16) for key, ids in splits.items()}))


BUILDERS = {'coco': make_coco, 'ade': make_ade, 'imagenet': make_imagenet, 'market1501': make_market1501,
            'cifar10': make_cifar10, 'cub': make_cub, 'pets': make_pets, 'flowers102': make_flowers102,
            'dukemtmc': make_dukemtmc, 'cuhk03': make_cuhk03, 'msmt17': make_msmt17, 'vehicleid': make_vehicleid,
            'fashion_mnist': make_fashion_mnist}


# ---------------------------------------------------------------- build / CLI

def is_complete(target):
    try:
        with open(os.path.join(target, MARKER), encoding='utf-8') as f:
            return f.read().strip() == VERSION
    except OSError:
        return False


def unit_folder(name):
    """The folder under --out that holds dataset `name` (and its marker), built and replaced at once."""
    return DATA_ROOTS[name].split('/')[0]


def build_atomically(name, out_dir):
    """Build dataset `name` into a temp folder beside its folder under out_dir, then swap it into place."""
    folder = unit_folder(name)
    target = os.path.join(out_dir, folder)
    tmp = os.path.join(out_dir, f'.{folder}.tmp-{os.getpid()}')
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        root = os.path.normpath(os.path.join(tmp, *DATA_ROOTS[name].split('/')[1:]))
        os.makedirs(root)
        BUILDERS[name](root, np.random.default_rng(SEEDS[name]))
        write_text(os.path.join(tmp, MARKER), VERSION + '\n')
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def make_tiny_data(out_dir: str, only=None, force: bool = False) -> dict:
    """Build the datasets named in `only` (default: all) under out_dir; returns {name: data root}."""
    names = list(BUILDERS) if only is None else list(dict.fromkeys(only))
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        raise ValueError(f'unknown dataset(s) {", ".join(unknown)}; choose from {", ".join(BUILDERS)}')
    for name in names:
        if force or not is_complete(os.path.join(out_dir, unit_folder(name))):
            os.makedirs(out_dir, exist_ok=True)
            build_atomically(name, out_dir)
    return {name: os.path.normpath(os.path.join(out_dir, DATA_ROOTS[name])) for name in names}


class OneLineErrorParser(argparse.ArgumentParser):
    """Report bad arguments as a single `prog: error: ...` line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message}\n')


def main(argv=None):
    parser = OneLineErrorParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='data/tiny', help='output folder (default: data/tiny)')
    parser.add_argument('--only', nargs='+', choices=list(BUILDERS), metavar='NAME',
                        help=f'datasets to build, any of: {" ".join(BUILDERS)} (default: all)')
    parser.add_argument('--force', action='store_true', help='rebuild datasets that are already complete')
    args = parser.parse_args(argv)
    start = time.time()
    try:
        roots = make_tiny_data(args.out, args.only, args.force)
    except OSError as error:
        parser.error(str(error))
    for name, root in roots.items():
        print(f'{name}: {root}')
    print(f'done in {time.time() - start:.1f} s')
