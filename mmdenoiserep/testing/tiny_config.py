"""Run any full-scale config on the tiny datasets (`mmdenoiserep.testing.tiny_data`): ``--tiny`` in the tools.

One rule set for every config, applied to the loaded Config (the config files stay full-scale):
- data: every path ``data/X`` becomes ``data/tiny/X`` (the tiny data mirror the real layouts);
- CIFAR-10: mmpretrain's ``CIFAR10`` reads only the real batch files (it checks their md5 sums and otherwise
  downloads the real set), so its datasets become ``mmdenoiserep.TinyCIFAR10`` (the same class without
  those sums: it checks that the files exist) with ``download=False``;
- loaders: batch size 2, no worker processes; an identity batch sampler (``num_instances``, re-id, whose
  batch is global) gets 2 identities x 2 images per process (times ``WORLD_SIZE`` of a torchrun launch),
  the least a batch-hard triplet loss takes;
- AMP: ``AmpOptimWrapper`` (GPU only in mmengine) becomes ``OptimWrapper`` on a machine without CUDA (each
  one of a multi-optimizer ``optim_wrapper``: CLIP-ReID's ``prompt`` and ``image``);
- schedule: 2 epochs (or 20 iterations), validation every epoch, constant learning rate; CLIP-ReID's loop
  (``train_cfg.prompt_epochs``) runs one epoch of each stage, its feature-extraction loader as the others;
- image sizes in pipelines and data preprocessors divided by 8 (multiples of 32, at least 64), and what
  is tied to them: batch-resize ranges, RandomAffine's ``border`` (minus half of the mosaic size), and
  ``pad_small_map=True`` for mmpretrain's Swin/SwinV2 (tiny maps are smaller than their windows);
- no downloads: ``init_cfg`` of type 'Pretrained', ``pretrained`` paths and ``load_from`` are dropped
  (``--cfg-options`` given after ``--tiny`` still set them; tools/train.py starts from the tiny baseline's
  checkpoint where the config starts from a trained baseline, and says where it starts:
  `tiny_load_from`);
- hooks: log every 5 iterations, checkpoint every epoch, DenoiseRepHook phases of one epoch each (of
  TINY_ITERS // 4 iterations when they count iterations, explicitly or under an IterBasedTrainLoop),
  starting with the config's first phase (``offset`` 0).
"""
import os
import os.path as osp
from typing import Any, Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict
from mmengine.runner import find_latest_checkpoint

__all__ = ['TINY_DATA_ROOT', 'TINY_ITERS', 'tiny_config', 'tiny_load_from']

TINY_DATA_ROOT = 'data/tiny'
TINY_EPOCHS = 2
TINY_ITERS = 20
TINY_BATCH_SIZE = 2
SIZE_DIVISOR = 8
SIZE_KEYS = ('scale', 'scales', 'img_scale', 'crop_size', 'size', 'random_size_range')
TINY_CIFAR10 = 'mmdenoiserep.TinyCIFAR10'  # mmdenoiserep/datasets/tiny_cifar.py


def _map(value: Any, fn) -> Any:
    """Apply ``fn`` to every dict (after its children) and every str of a nested config."""
    if isinstance(value, dict):
        for key in list(value):
            value[key] = _map(value[key], fn)
        return fn(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_map(item, fn) for item in value)
    return fn(value)


def _shrink(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value >= 64:
        return max(64, int(round(value / SIZE_DIVISOR / 32)) * 32)
    if isinstance(value, (list, tuple)):
        return type(value)(_shrink(v) for v in value)
    return value


def _shrink_border(value: Any) -> Any:
    """RandomAffine's border is -size/2 of the (mosaic) canvas it crops: shrink the size it halves."""
    if isinstance(value, (list, tuple)):
        return type(value)(_shrink_border(v) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
        return int(value / abs(value) * _shrink(2 * abs(value)) // 2)
    return value


def _tiny_node(node: Any) -> Any:
    """data/X -> data/tiny/X for paths; Pretrained init_cfg dicts dropped; CIFAR10 -> TinyCIFAR10."""
    if isinstance(node, str):
        path = node[2:] if node.startswith('./data/') else node
        if path.startswith('data/') and not path.startswith(TINY_DATA_ROOT + '/'):
            return f'{TINY_DATA_ROOT}/{path[len("data/"):]}'
    elif isinstance(node, dict):
        if node.get('type') == 'Pretrained':
            return None
        if node.get('type') in ('CIFAR10', 'mmpretrain.CIFAR10'):
            node.update(type=TINY_CIFAR10, download=False)
        if isinstance(node.get('pretrained'), str):  # the older form of a Pretrained init_cfg
            node['pretrained'] = None
    return node


def _is_transform_list(key: str) -> bool:
    """'pipeline', a hook's 'new_train_pipeline'/'switch_pipeline', 'transforms', 'batch_augments'."""
    return key in ('pipeline', 'transforms', 'batch_augments') or key.endswith('_pipeline')


def _shrink_transforms(node: Any) -> Any:
    """Shrink the sizes of every transform of every transform list (see `_is_transform_list`)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if _is_transform_list(key) and isinstance(value, (list, tuple)):
                for transform in _flatten(value):
                    for size_key in SIZE_KEYS:
                        if size_key in transform:
                            transform[size_key] = _shrink(transform[size_key])
                    if 'border' in transform:
                        transform['border'] = _shrink_border(transform['border'])
            _shrink_transforms(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _shrink_transforms(item)
    return node


def _flatten(transforms):
    """The transform dicts of a pipeline list (RandomChoice nests lists of lists)."""
    for item in transforms:
        if isinstance(item, dict):
            yield item
        elif isinstance(item, (list, tuple)):
            yield from _flatten(item)


def _pad_small_windows(node: Any, default_scope) -> Any:
    """mmpretrain's Swin/SwinV2 refuse maps smaller than a window, as tiny images make in the last stages,
    unless ``pad_small_map=True`` (what their detection configs set): set it."""
    if isinstance(node, dict) and isinstance(node.get('type'), str):
        scope, _, name = node['type'].rpartition('.')
        if name in ('SwinTransformer', 'SwinTransformerV2') and (scope or default_scope) == 'mmpretrain':
            node['pad_small_map'] = True
    return node


def tiny_config(cfg: Config) -> Config:
    """Rewrite ``cfg`` in place (and return it) to run on the tiny data in seconds on a CPU."""
    for key in list(cfg.keys()):
        cfg[key] = _shrink_transforms(_map(cfg[key], _tiny_node))
    if isinstance(cfg.get('pretrained'), str):  # a config-level variable, as in mmdet's Swin configs
        cfg.pretrained = None
    cfg.load_from = None

    model = cfg.get('model', {})
    _map(model, lambda node: _pad_small_windows(node, cfg.get('default_scope')))
    preprocessor = model.get('data_preprocessor') or {}
    if 'size' in preprocessor:
        preprocessor['size'] = _shrink(preprocessor['size'])
    test_cfg = model.get('test_cfg') or {}
    for key in ('crop_size', 'stride'):
        if key in test_cfg:
            test_cfg[key] = _shrink(test_cfg[key])

    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if loader:
            loader.update(batch_size=TINY_BATCH_SIZE, num_workers=0, persistent_workers=False)
            batch_sampler = loader.get('batch_sampler') or {}
            if 'num_instances' in batch_sampler:  # P identities x K images: the least a triplet loss takes
                batch_sampler['num_instances'] = TINY_BATCH_SIZE
                world_size = int(os.environ.get('WORLD_SIZE', 1))  # the identity batch is global
                loader['batch_size'] = TINY_BATCH_SIZE * TINY_BATCH_SIZE * world_size

    optim_wrapper = cfg.get('optim_wrapper') or {}
    wrappers = [optim_wrapper] if 'optimizer' in optim_wrapper else [  # one optimizer, or one per name
        value for value in optim_wrapper.values() if isinstance(value, dict) and 'optimizer' in value]
    for wrapper in wrappers:
        if str(wrapper.get('type', '')).endswith('AmpOptimWrapper') and not torch.cuda.is_available():
            wrapper['type'] = 'OptimWrapper'
            for key in ('loss_scale', 'dtype', 'use_fsdp'):
                wrapper.pop(key, None)

    train_cfg = cfg.get('train_cfg') or ConfigDict()
    iteration_loop = 'max_iters' in train_cfg
    if iteration_loop:
        train_cfg.update(max_iters=TINY_ITERS, val_interval=TINY_ITERS)
    elif train_cfg:
        train_cfg.update(max_epochs=TINY_EPOCHS, val_interval=1)
    if train_cfg.get('prompt_epochs'):  # CLIP-ReID's two stages (mmdenoiserep.CLIPReIDTrainLoop): one epoch each
        train_cfg.prompt_epochs = 1
        train_cfg.prompt_dataloader.update(batch_size=TINY_BATCH_SIZE, num_workers=0, persistent_workers=False)
    cfg.param_scheduler = None

    hooks = cfg.get('default_hooks') or {}
    if hooks.get('logger'):
        hooks['logger']['interval'] = 5
    if hooks.get('checkpoint'):
        hooks['checkpoint'].update(interval=TINY_ITERS if iteration_loop else 1)
    for hook in cfg.get('custom_hooks') or []:
        if hook.get('type', '').endswith('DenoiseRepHook'):
            by_epoch = hook.get('by_epoch')
            by_epoch = not iteration_loop if by_epoch is None else by_epoch  # as the hook resolves it
            hook.update(interval=1 if by_epoch else max(1, TINY_ITERS // 4), log_interval=5, offset=0)
    return cfg


def tiny_load_from(load_from: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """(``load_from`` of a --tiny training run, the line that says where it starts) for a config's ``load_from``.

    A trained baseline, ``work_dirs/<baseline>/...``, becomes the latest checkpoint of the tiny baseline run
    ``work_dirs/tiny/<baseline>`` (what ``tools/train.py configs/<baseline>.py --tiny`` writes); without one,
    and for full-scale checkpoints (downloads, ``pretrain/``), the run starts from random weights.
    """
    if not load_from:
        return None, None
    parts = osp.normpath(load_from).split(os.sep)
    if len(parts) > 2 and parts[0] == 'work_dirs' and parts[1] != 'tiny':
        tiny_dir = osp.join('work_dirs', 'tiny', parts[1])
        latest = find_latest_checkpoint(tiny_dir) if osp.isfile(osp.join(tiny_dir, 'last_checkpoint')) else None
        if latest:
            return latest, f'--tiny: starting from the tiny baseline {latest} (the config: load_from {load_from})'
        return None, (f'--tiny: starting from random weights: no tiny baseline in {tiny_dir} yet (train one with '
                      f'python tools/train.py configs/{parts[1]}.py --tiny); the config: load_from {load_from}')
    return None, (f'--tiny: starting from random weights: load_from {load_from} is a full-scale checkpoint (give a '
                  'tiny one with --cfg-options load_from=PATH)')
