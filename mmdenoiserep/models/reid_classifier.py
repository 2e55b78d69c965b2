"""``mmdenoiserep.ReIDClassifier``: mmpretrain's ImageClassifier that hands each sample's camera (and view) id
to a backbone with side information embeddings (`mmdenoiserep.TransReIDViT` with ``num_cameras``/``num_views``).

TransReID passes ``cam_label`` (and ``view_label``) to its model in training and test (damo-cv/TransReID
``processor/processor.py``). Here the ids come from the data samples' metainfo, ``camid`` (0-based, as
`mmdenoiserep.datasets.reid` gives it) and ``viewid``: pack them (``PackInputs(meta_keys=(..., 'camid'))``) in
the train and test pipelines. They are set on the backbone for the whole forward (``backbone.side_information``),
so every backbone call in it gets them, the backbone-only forward of DenoiseRep's denoise phase included. A
backbone without SIE, or a forward without data samples (``mode='tensor'``), runs as in ImageClassifier.
"""
import contextlib
from typing import List, Optional

import torch
from mmpretrain.models import ImageClassifier

from ..registry import MODELS
from ..utils import InputError

__all__ = ['ReIDClassifier']


def sample_ids(data_samples: List, key: str, count: int, device) -> torch.Tensor:
    """(B,) long tensor of each sample's ``key`` metainfo, each in [0, count); InputError if one is missing."""
    ids = []
    for sample in data_samples:
        value = sample.get(key) if hasattr(sample, 'get') else getattr(sample, key, None)
        if value is None:
            raise InputError(f"ReIDClassifier: the backbone's SIE needs each sample's {key!r}: add it to the "
                             "pipeline's PackInputs meta_keys")
        value = int(value)
        if not 0 <= value < count:
            raise InputError(f'ReIDClassifier: {key} {value} outside the SIE range [0, {count})')
        ids.append(value)
    return torch.tensor(ids, dtype=torch.long, device=device)


@MODELS.register_module()
class ReIDClassifier(ImageClassifier):
    """ImageClassifier whose forward gives the backbone the samples' ``camid``/``viewid`` (see the module
    docstring); its arguments are ImageClassifier's."""

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List] = None, mode: str = 'tensor'):
        with self.side_information(inputs, data_samples):
            return super().forward(inputs, data_samples, mode)

    @contextlib.contextmanager
    def side_information(self, inputs: torch.Tensor, data_samples: Optional[List]):
        """Within the block, the backbone uses the samples' camera (and view) ids when it has an SIE."""
        cameras, views = getattr(self.backbone, 'num_cameras', 0), getattr(self.backbone, 'num_views', 0)
        if not (cameras or views) or data_samples is None:
            yield
            return
        camera_ids = sample_ids(data_samples, 'camid', cameras, inputs.device) if cameras else None
        view_ids = sample_ids(data_samples, 'viewid', views, inputs.device) if views else None
        with self.backbone.side_information(camera_ids, view_ids):
            yield
