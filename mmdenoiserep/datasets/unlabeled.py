"""``mmdenoiserep.UnlabeledImageFolder``: a folder of images and nothing else, for label-free denoising.

DenoiseRep's denoise phase needs no annotation: the noise-prediction loss is computed on each layer's
input, and DenoiseRepHook runs only the backbone there. This dataset lists the images under
``data_root/data_prefix['img_path']`` (recursively, sorted; .jpg .jpeg .png .bmp .webp), each sample
``dict(img_path=..., img_id=<index>)``, so any toolbox's loading and resizing transforms and its packing
transform (e.g. mmdet's ``PackDetInputs``, which then packs no instances) apply. COCO's ``unlabeled2017/``
(123k images) is the example: configs/mask_rcnn_swinv2_t_label_free_coco_unlabeled.py.
"""
import os
import os.path as osp
from typing import List

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from ..utils import InputError

__all__ = ['UnlabeledImageFolder']

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


@DATASETS.register_module()
class UnlabeledImageFolder(BaseDataset):
    """Every image file under ``data_root/data_prefix['img_path']``; no labels (see the module docstring)."""

    def __init__(self, data_root: str = '', data_prefix: dict = dict(img_path=''), **kwargs):
        super().__init__(data_root=data_root, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        folder = self.data_prefix.get('img_path', '') or self.data_root
        if not osp.isdir(folder):
            raise InputError(f'UnlabeledImageFolder: image folder {folder} not found')
        paths = sorted(osp.join(root, name) for root, _, names in os.walk(folder) for name in names
                       if name.lower().endswith(IMAGE_EXTENSIONS))
        if not paths:
            raise InputError(f'UnlabeledImageFolder: no image ({", ".join(IMAGE_EXTENSIONS)}) under {folder}')
        return [dict(img_path=path, img_id=index) for index, path in enumerate(paths)]
