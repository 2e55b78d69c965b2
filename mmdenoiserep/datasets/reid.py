"""Re-identification datasets in their published layouts (config types ``mmdenoiserep.X``).

Every dataset has a ``split``: ``'train'`` (identities relabelled ``0..N-1`` in order of their original id,
``gt_label`` = the new label) or ``'test'`` (the query images, ``is_query=True``, then the gallery images,
``is_query=False``; ``gt_label`` = the original id). Each sample is a dict with ``img_path``, ``gt_label``,
``pid`` (the original identity), ``camid`` (0-based camera) and ``is_query``.

============  ==================================================================================
Market1501    ``bounding_box_train/``, ``query/``, ``bounding_box_test/``; names ``PPPP_cCsS_FFFFFF_NN.jpg``.
              Images of id -1 (junk boxes) are dropped; id 0000 (distractors) stay in the gallery.
DukeMTMCReID  the same layout and naming (``PPPP_cC_fFFFFFFF.jpg``).
CUHK03        the new protocol (Zhong et al., CVPR 2017), ``variant`` ``'labeled'`` or ``'detected'``:
              ``<variant>/{bounding_box_train,query,bounding_box_test}/``, Market-style names (.png).
MSMT17        MSMT17_V1: ``list_{train,val,query,gallery}.txt`` lines ``<path> <pid>``, paths under
              ``train/`` (train, val) or ``test/`` (query, gallery), names ``PPPP_FFF_CC_...``
              (CC: 1-based camera). Train uses list_train and list_val, as TransReID-SSL.
VehicleID     ``image/<name>.jpg``; ``train_test_split/train_list.txt`` and ``test_list_{800,1600,2400}
              .txt`` lines ``<name> <vehicle id>`` (``test_size``). No cameras (camid 0); every test image
              is a gallery candidate: ``ReIDMetric(gallery='random_per_identity')`` draws the gallery.
============  ==================================================================================

A missing folder or list, or an image name that does not parse, raises a one-line ``InputError`` naming it.
"""
import os
import os.path as osp
import re
from typing import List, Tuple

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from ..utils import InputError

__all__ = ['ReIDDataset', 'Market1501', 'DukeMTMCReID', 'CUHK03', 'MSMT17', 'VehicleID']

SPLITS = ('train', 'test')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')


def relabel(samples: List[dict]) -> List[dict]:
    """Give training samples ``gt_label`` = rank of their ``pid`` among the sorted distinct pids."""
    labels = {pid: label for label, pid in enumerate(sorted({s['pid'] for s in samples}))}
    for sample in samples:
        sample['gt_label'] = labels[sample['pid']]
    return samples


class ReIDDataset(BaseDataset):
    """Base of the re-id datasets: ``load_samples`` returns (train, query, gallery) sample lists of one split.

    Args:
        data_root: the dataset's folder (e.g. ``data/market1501/Market-1501-v15.09.15``).
        split: ``'train'`` or ``'test'`` (query then gallery).
        **kwargs: ``pipeline``, ``indices``, ``serialize_data``, ... of mmengine's ``BaseDataset``.
    """

    def __init__(self, data_root: str, split: str = 'train', **kwargs):
        if split not in SPLITS:
            raise InputError(f'{type(self).__name__}: split must be one of {SPLITS}, got {split!r}')
        self.split = split
        kwargs.setdefault('test_mode', split == 'test')
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        if not osp.isdir(self.data_root):
            raise InputError(f'{type(self).__name__}: data folder {self.data_root} not found')
        if self.split == 'train':
            return relabel(self.load_train())
        query, gallery = self.load_test()
        for sample in query + gallery:
            sample['gt_label'] = sample['pid']
        return ([dict(s, is_query=True) for s in query]
                + [dict(s, is_query=False) for s in gallery])

    def load_train(self) -> List[dict]:
        raise NotImplementedError

    def load_test(self) -> Tuple[List[dict], List[dict]]:
        raise NotImplementedError

    def folder(self, *parts: str) -> str:
        path = osp.join(self.data_root, *parts)
        if not osp.isdir(path):
            raise InputError(f'{type(self).__name__}: folder {path} not found')
        return path

    def list_file(self, *parts: str) -> List[Tuple[str, str]]:
        """The (name, id) pairs of a ``<name> <id>`` list file."""
        path = osp.join(self.data_root, *parts)
        if not osp.isfile(path):
            raise InputError(f'{type(self).__name__}: list file {path} not found')
        with open(path, encoding='utf-8') as f:
            rows = [line.split() for line in f if line.strip()]
        for number, row in enumerate(rows, 1):
            if len(row) != 2 or not row[1].lstrip('-').isdigit():
                raise InputError(f'{type(self).__name__}: {path} line {number} is not "<name> <id>": '
                                 f'{" ".join(row)!r}')
        return [(name, id_) for name, id_ in rows]


class MarketStyleDataset(ReIDDataset):
    """Folders of images named ``<pid>_c<camera>...`` (Market-1501 naming); pid -1 is junk and dropped."""

    NAME_PATTERN = re.compile(r'^(-?\d+)_c(\d+)')
    TRAIN, QUERY, GALLERY = 'bounding_box_train', 'query', 'bounding_box_test'

    def image_root(self) -> str:
        return self.data_root

    def parse_folder(self, name: str) -> List[dict]:
        folder = osp.join(self.image_root(), name)
        if not osp.isdir(folder):
            raise InputError(f'{type(self).__name__}: folder {folder} not found')
        samples = []
        for file in sorted(os.listdir(folder)):
            if not file.lower().endswith(IMAGE_EXTENSIONS):
                continue
            match = self.NAME_PATTERN.match(file)
            if match is None:
                raise InputError(f'{type(self).__name__}: cannot read <pid>_c<camera> from '
                                 f'{osp.join(folder, file)}')
            pid, camera = int(match.group(1)), int(match.group(2))
            if pid == -1:
                continue
            if pid < 0 or camera < 1:
                raise InputError(f'{type(self).__name__}: bad pid or camera (1-based) in {osp.join(folder, file)}')
            samples.append(dict(img_path=osp.join(folder, file), pid=pid, camid=camera - 1))
        return samples

    def load_train(self):
        return self.parse_folder(self.TRAIN)

    def load_test(self):
        return self.parse_folder(self.QUERY), self.parse_folder(self.GALLERY)


@DATASETS.register_module()
class Market1501(MarketStyleDataset):
    """Market-1501 (Zheng et al., ICCV 2015): 751 training / 750 test identities, 6 cameras."""


@DATASETS.register_module()
class DukeMTMCReID(MarketStyleDataset):
    """DukeMTMC-reID (Zheng et al., ICCV 2017): 702 training / 1110 test identities, 8 cameras."""


@DATASETS.register_module()
class CUHK03(MarketStyleDataset):
    """CUHK03 in the new protocol (767 training / 700 test identities), ``variant`` 'labeled' or 'detected'."""

    VARIANTS = ('labeled', 'detected')

    def __init__(self, data_root: str, split: str = 'train', variant: str = 'labeled', **kwargs):
        if variant not in self.VARIANTS:
            raise InputError(f'CUHK03: variant must be one of {self.VARIANTS}, got {variant!r}')
        self.variant = variant
        super().__init__(data_root=data_root, split=split, **kwargs)

    def image_root(self) -> str:
        return osp.join(self.data_root, self.variant)


@DATASETS.register_module()
class MSMT17(ReIDDataset):
    """MSMT17_V1 (Wei et al., CVPR 2018): 1041 training / 3060 test identities, 15 cameras."""

    def parse_list(self, list_name: str, folder: str) -> List[dict]:
        image_root = self.folder(folder)
        samples = []
        for name, pid in self.list_file(list_name):
            fields = osp.basename(name).split('_')
            if len(fields) < 3 or not fields[2].isdigit() or int(fields[2]) < 1:
                raise InputError(f'MSMT17: cannot read the camera (third _ field, 1-based) of {name} in '
                                 f'{osp.join(self.data_root, list_name)}')
            samples.append(dict(img_path=osp.join(image_root, name), pid=int(pid), camid=int(fields[2]) - 1))
        return samples

    def load_train(self):
        return self.parse_list('list_train.txt', 'train') + self.parse_list('list_val.txt', 'train')

    def load_test(self):
        return self.parse_list('list_query.txt', 'test'), self.parse_list('list_gallery.txt', 'test')


@DATASETS.register_module()
class VehicleID(ReIDDataset):
    """VehicleID (Liu et al., CVPR 2016): 13164 training vehicles; test lists of 800, 1600 or 2400 vehicles.

    Test samples are all gallery candidates (``is_query=False``, camid 0): the protocol draws one gallery
    image per vehicle at random and queries with the rest, ``ReIDMetric(gallery='random_per_identity')``.
    """

    TEST_SIZES = (800, 1600, 2400)

    def __init__(self, data_root: str, split: str = 'train', test_size: int = 800, **kwargs):
        if test_size not in self.TEST_SIZES:
            raise InputError(f'VehicleID: test_size must be one of {self.TEST_SIZES}, got {test_size!r}')
        self.test_size = test_size
        super().__init__(data_root=data_root, split=split, **kwargs)

    def parse_list(self, list_name: str) -> List[dict]:
        image_root = self.folder('image')
        return [dict(img_path=osp.join(image_root, f'{name}.jpg'), pid=int(pid), camid=0)
                for name, pid in self.list_file('train_test_split', list_name)]

    def load_train(self):
        return self.parse_list('train_list.txt')

    def load_test(self):
        return [], self.parse_list(f'test_list_{self.test_size}.txt')

