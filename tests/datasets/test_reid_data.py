"""Re-id datasets on the tiny data of their published layouts, and the identity batch sampler."""
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import mmdenoiserep.testing.tiny_data as mtd
from mmdenoiserep.datasets import (CUHK03, MSMT17, DukeMTMCReID, IdentityBatchSampler, Market1501, VehicleID)
from mmdenoiserep.utils import InputError

REID_SETS = ('market1501', 'dukemtmc', 'cuhk03', 'msmt17', 'vehicleid')


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    out = tmp_path_factory.mktemp('reid')
    return {name: Path(root) for name, root in mtd.make_tiny_data(str(out), only=REID_SETS).items()}


def samples(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def check_common(train, test, num_cameras):
    """Relabelled 0..N-1 train labels, 0-based cameras, every sample's keys and files."""
    assert sorted({s['gt_label'] for s in train}) == list(range(len({s['pid'] for s in train})))
    assert all(s['gt_label'] == rank for s in train
               for rank, pid in enumerate(sorted({t['pid'] for t in train})) if s['pid'] == pid)
    for sample in train + test:
        assert {'img_path', 'gt_label', 'pid', 'camid'} <= set(sample)
        assert 0 <= sample['camid'] < num_cameras
        assert os.path.isfile(sample['img_path']), sample['img_path']
    assert all(s['gt_label'] == s['pid'] for s in test)


def market_names(folder):
    """(pid, 0-based camera) of each image file, parsed independently of the dataset class."""
    names = sorted(p.name for p in folder.iterdir())
    return [(int(m.group(1)), int(m.group(2)) - 1) for m in (re.match(r'(-?\d+)_c(\d+)', n) for n in names)]


@pytest.mark.parametrize('cls, name, subfolder, num_cameras', [
    (Market1501, 'market1501', '', 6), (DukeMTMCReID, 'dukemtmc', '', 8), (CUHK03, 'cuhk03', 'labeled', 2),
    (CUHK03, 'cuhk03', 'detected', 2)])
def test_market_style_sets(roots, cls, name, subfolder, num_cameras):
    kwargs = dict(variant=subfolder) if subfolder else {}
    train = samples(cls(data_root=str(roots[name]), split='train', **kwargs))
    test = samples(cls(data_root=str(roots[name]), split='test', **kwargs))
    check_common(train, test, num_cameras)
    folder = roots[name] / subfolder
    files = {f: market_names(folder / f) for f in ('bounding_box_train', 'query', 'bounding_box_test')}
    assert [(s['pid'], s['camid']) for s in train] == files['bounding_box_train']
    query = [s for s in test if s['is_query']]
    gallery = [s for s in test if not s['is_query']]
    assert test == query + gallery  # queries first
    assert [(s['pid'], s['camid']) for s in query] == files['query']
    assert [(s['pid'], s['camid']) for s in gallery] == [f for f in files['bounding_box_test'] if f[0] != -1]


def test_market1501_drops_junk_and_keeps_distractors(roots):
    gallery = [s for s in samples(Market1501(data_root=str(roots['market1501']), split='test'))
               if not s['is_query']]
    assert Counter(s['pid'] for s in gallery if s['pid'] in (-1, 0)) == {0: 3}
    assert len(gallery) == 30 - 3


def test_msmt17_trains_on_train_and_val_lists(roots):
    root = roots['msmt17']
    lists = {n: (root / f'list_{n}.txt').read_text().split('\n')[:-1] for n in ('train', 'val', 'query', 'gallery')}
    train = samples(MSMT17(data_root=str(root), split='train'))
    test = samples(MSMT17(data_root=str(root), split='test'))
    check_common(train, test, 15)
    expected = [(str(root / 'train' / p), int(pid), int(p.split('_')[2]) - 1)
                for p, pid in (line.split() for line in lists['train'] + lists['val'])]
    assert [(s['img_path'], s['pid'], s['camid']) for s in train] == expected
    assert [s['is_query'] for s in test] == [True] * len(lists['query']) + [False] * len(lists['gallery'])
    assert all(s['img_path'].startswith(str(root / 'test')) for s in test)


@pytest.mark.parametrize('test_size, vehicles', [(800, 4), (1600, 6), (2400, 8)])
def test_vehicleid_lists(roots, test_size, vehicles):
    root = roots['vehicleid']
    train = samples(VehicleID(data_root=str(root), split='train'))
    test = samples(VehicleID(data_root=str(root), split='test', test_size=test_size))
    check_common(train, test, 1)
    assert len({s['pid'] for s in test}) == vehicles and len(test) == 3 * vehicles
    assert not any(s['is_query'] for s in test)  # ReIDMetric draws the gallery
    lines = (root / 'train_test_split' / 'train_list.txt').read_text().split()
    assert [(Path(s['img_path']).stem, s['pid']) for s in train] == list(zip(lines[::2], map(int, lines[1::2])))


@pytest.mark.parametrize('make, message', [
    (lambda root: Market1501(data_root=str(root / 'nowhere')), 'data folder .*nowhere not found'),
    (lambda root: Market1501(data_root=str(root), split='val'), "split must be one of"),
    (lambda root: CUHK03(data_root=str(root), variant='both'), "variant must be one of"),
    (lambda root: VehicleID(data_root=str(root), test_size=100), 'test_size must be one of'),
    (lambda root: Market1501(data_root=str(root)), 'folder .*bounding_box_train not found'),
    (lambda root: MSMT17(data_root=str(root)), 'folder .*train not found'),
    (lambda root: (root / 'train').mkdir() or MSMT17(data_root=str(root)), 'list file .*list_train.txt not found'),
    (lambda root: VehicleID(data_root=str(root)), 'folder .*image not found')])
def test_missing_or_bad_input_is_named(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        make(tmp_path)


def test_unparseable_names_are_named(tmp_path):
    (tmp_path / 'bounding_box_train').mkdir()
    (tmp_path / 'bounding_box_train' / 'person.jpg').write_bytes(b'')
    with pytest.raises(InputError, match=r'cannot read <pid>_c<camera> from .*person\.jpg'):
        Market1501(data_root=str(tmp_path))
    (tmp_path / 'train').mkdir()
    (tmp_path / 'list_train.txt').write_text('0000/0000_000.jpg 0\n')
    with pytest.raises(InputError, match=r'camera .* of 0000/0000_000\.jpg'):
        MSMT17(data_root=str(tmp_path))
    (tmp_path / 'list_train.txt').write_text('0000/0000_000_01_x.jpg\n')
    with pytest.raises(InputError, match='line 1 is not "<name> <id>"'):
        MSMT17(data_root=str(tmp_path))


class Labels:
    """A dataset stand-in: get_data_info(i)['gt_label'] = labels[i]."""

    def __init__(self, labels):
        self.labels = list(labels)

    def __len__(self):
        return len(self.labels)

    def get_data_info(self, index):
        return dict(gt_label=self.labels[index])


class InnerSampler:
    def __init__(self, dataset, seed=0, epoch=0, rank=0, world_size=1):
        self.dataset, self.seed, self.epoch, self.rank, self.world_size = dataset, seed, epoch, rank, world_size


def batches(labels, batch_size=8, num_instances=2, **kwargs):
    sampler = IdentityBatchSampler(InnerSampler(Labels(labels), **kwargs), batch_size, num_instances)
    result = list(sampler)
    assert len(result) == len(sampler)
    return result


LABELS = [0] * 7 + [1] * 2 + [2] * 1 + [3] * 4 + [4] * 5 + [5] * 3 + [6] * 6


def test_batches_hold_p_identities_of_k_images():
    result = batches(LABELS, batch_size=6, num_instances=2)
    # chunks of 2: 3 + 1 + 1 (filled up) + 2 + 2 + 1 + 3 = 13 -> 13 // 3 identities = 4 batches
    assert len(result) == 4
    for batch in result:
        counts = Counter(LABELS[i] for i in batch)
        assert len(batch) == 6 and len(counts) == 3 and set(counts.values()) == {2}
        for label in counts:  # K distinct images, except label 2's single image, drawn twice
            images = {i for i in batch if LABELS[i] == label}
            assert len(images) == (1 if label == 2 else 2)


def test_deterministic_for_seed_and_epoch():
    assert batches(LABELS, seed=1, epoch=2) == batches(LABELS, seed=1, epoch=2)
    assert batches(LABELS, seed=1, epoch=2) != batches(LABELS, seed=1, epoch=3)
    assert batches(LABELS, seed=1) != batches(LABELS, seed=2)


def test_ranks_split_each_global_batch_by_identities():
    """batch_size is global (TransReID-SSL's IMS_PER_BATCH): at every step the w processes take disjoint
    whole identities of the one-process batch, which they make up together."""
    labels = np.repeat(np.arange(12), 4).tolist()
    single = batches(labels, 24, 4, seed=5)  # P = 6 identities x K = 4
    per_rank = [batches(labels, 24, 4, seed=5, rank=r, world_size=3) for r in range(3)]
    assert len(single) == 12 // 6 and all(len(b) == len(single) for b in per_rank)
    for step, batch in enumerate(single):
        parts = [rank_batches[step] for rank_batches in per_rank]
        assert [i for part in parts for i in part] == batch
        assert all(len(part) == 8 and len({labels[i] for i in part}) == 2 for part in parts)
        assert not set(labels[i] for i in parts[0]) & set(labels[i] for i in parts[1])


def test_too_few_identities_or_bad_sizes_are_refused():
    with pytest.raises(InputError, match='has 2 identities, fewer than the 4'):
        batches([0, 0, 1, 1], batch_size=8, num_instances=2)
    with pytest.raises(InputError, match='not a multiple of num_instances 4'):
        batches(LABELS, batch_size=6, num_instances=4)
    with pytest.raises(InputError, match=r'the global batch of 3 identities x 2 images \(batch_size 6\) does not '
                                         r'divide among 2 processes; make batch_size a multiple of 4'):
        batches(LABELS, batch_size=6, num_instances=2, world_size=2)


def test_sampler_builds_from_a_config_through_mmengine(roots):
    from mmengine.runner import Runner
    loader = Runner.build_dataloader(dict(
        batch_size=4, num_workers=0,
        dataset=dict(type='mmdenoiserep.Market1501', data_root=str(roots['market1501']), split='train',
                     pipeline=[]),
        sampler=dict(type='DefaultSampler', shuffle=True),
        batch_sampler=dict(type='mmdenoiserep.IdentityBatchSampler', num_instances=2),
        collate_fn=dict(type='default_collate')), seed=0)
    assert isinstance(loader.batch_sampler, IdentityBatchSampler)
    first = list(loader.batch_sampler)
    loader.batch_sampler.sampler.set_epoch(1)  # as DistSamplerSeedHook does
    assert list(loader.batch_sampler) != first
    for batch in first:
        labels = [loader.dataset.get_data_info(i)['gt_label'] for i in batch]
        assert sorted(Counter(labels).values()) == [2, 2]
