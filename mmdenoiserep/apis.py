"""Build a config's model or runner, as mmengine's Runner builds them (mmpretrain's ``get_model``/``init_model``,
mmdet's ``init_detector``): what the tools share to run a config.

They work for mmdet, mmseg and mmpretrain configs alike: the config's ``default_scope`` picks the toolbox,
mmengine's Runner does the rest. Argument parsing and config loading for the tools: `mmdenoiserep.cli`.
"""
import copy
import datetime
import itertools
import os.path as osp
import zipfile
from typing import Optional, Tuple

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.registry import DATA_SAMPLERS, MODELS, RUNNERS, init_default_scope
from mmengine.runner import Runner, find_latest_checkpoint
from mmengine.utils import import_modules_from_strings

from .utils import (InputError, check_checkpoint_file, check_not_unfused, checkpoint_state_dict, first_line,
                    load_checkpoint_file, load_state_dict_exact, strip_ddp_prefix)

__all__ = ['build_model', 'build_runner', 'check_data', 'resolve_resume', 'total_batch_size']

#: datasets that download themselves when ``download`` is not False (mmpretrain's defaults)
DOWNLOADING_DATASETS = ('CIFAR10', 'CIFAR100', 'MNIST', 'FashionMNIST')
_runner_count = itertools.count(1)


def build_model(cfg: Config, checkpoint: Optional[str] = None, device='cpu',
                model_cfg: Optional[dict] = None) -> torch.nn.Module:
    """The model of ``cfg`` as the Runner builds it, in eval mode on ``device``, with ``checkpoint`` loaded.

    The model is built under the config's ``default_scope`` (after its ``custom_imports``), with the
    config-level ``data_preprocessor`` as the Runner adds it, from a deep copy of ``cfg.model`` (or of
    ``model_cfg``, e.g. the baseline form of ``cfg.model``): some builders write into the dict they are given
    (mmdet's DETRHead puts a tensor into ``loss_cls.class_weight``), so a second model built from the same
    config would fail or differ.

    ``checkpoint``: an mmengine checkpoint or a bare state_dict (DDP's ``module.`` prefix dropped) whose keys
    and shapes are exactly the model's (`load_state_dict_exact`); a missing, truncated or unreadable file, an
    unfused DenoiseRep checkpoint for a model without denoisers, or any key mismatch: InputError (one line).
    Local files only.
    """
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model_cfg = copy.deepcopy(cfg.model if model_cfg is None else model_cfg)
    if cfg.get('data_preprocessor') is not None and isinstance(model_cfg, dict):
        model_cfg.setdefault('data_preprocessor', copy.deepcopy(cfg.data_preprocessor))
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        _load_exactly(model, checkpoint)
    model.to(device)
    model.eval()  # not chained: some backbones' train() returns None (mmpretrain's ResNet)
    return model


def _load_exactly(model: torch.nn.Module, path: str) -> None:
    """Load the checkpoint file ``path`` into ``model``, exactly its keys and shapes; else InputError."""
    _check_intact(path, 'checkpoint')
    try:
        checkpoint = load_checkpoint_file(path)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise InputError(f'cannot read checkpoint {path}: {first_line(error)}') from error
    check_not_unfused(model, checkpoint, path)
    try:
        state_dict = strip_ddp_prefix(checkpoint_state_dict(checkpoint))
    except InputError as error:
        raise InputError(f'checkpoint {path} {error}') from error
    try:
        load_state_dict_exact(model, state_dict)
    except ValueError as error:
        raise InputError(f'checkpoint {path} does not match the model: {error}') from error


def _init_cpu_process_group(cfg: Config) -> None:
    """Join the torchrun process group on a machine without CUDA.

    mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device(LOCAL_RANK)`` unconditionally,
    which fails without CUDA; the Runner skips ``init_dist`` when a process group already exists.
    """
    if torch_dist.is_initialized():
        return
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = dist_cfg.pop('backend', 'gloo')
    if dist_cfg.get('timeout') is not None:
        dist_cfg['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    torch_dist.init_process_group(backend=backend, **dist_cfg)  # env:// (RANK, WORLD_SIZE, MASTER_*)


def total_batch_size(cfg: Config, world_size: int) -> Tuple[int, bool]:
    """(images per optimizer step over all processes, whether the config's ``batch_size`` is already global).

    A loader's ``batch_size`` is per process (mmengine's rule: the total is world_size x batch_size), except
    under a batch sampler that declares ``global_batch`` (`mmdenoiserep.IdentityBatchSampler`: re-id)."""
    loader = cfg.get('train_dataloader') or {}
    batch_size = int(loader.get('batch_size') or 0)
    sampler = (loader.get('batch_sampler') or {}).get('type', '')
    sampler_class = sampler if isinstance(sampler, type) else DATA_SAMPLERS.get(sampler) if sampler else None
    if getattr(sampler_class, 'global_batch', False):
        return batch_size, True
    return world_size * batch_size, False


def resolve_resume(cfg: Config, resume: Optional[str]) -> str:
    """Apply ``--resume [PATH]`` to ``cfg`` and say where the run starts (one line for the log).

    ``'auto'``: the latest checkpoint of the work dir (its ``last_checkpoint`` pointer); on a first launch,
    when there is none yet, the run starts as without ``--resume``: from ``load_from`` (weights only) or from
    the initial weights. (mmengine's ``resume=True`` would instead drop ``load_from`` and start from random
    weights, or take ``load_from`` as the run to resume, with its epoch and optimizer.) A PATH, or the
    checkpoint found, must be a complete, uncorrupted checkpoint: else InputError.
    """
    if resume == 'auto':
        resume = find_latest_checkpoint(cfg.work_dir) if osp.isdir(cfg.work_dir) else None
        if resume is None:
            cfg.resume = False
            start = f'load_from {cfg.load_from}' if cfg.get('load_from') else 'the initial weights (no load_from)'
            return f'--resume: no checkpoint in {cfg.work_dir} yet: starting from {start}'
    elif resume is None:
        return f'starting from load_from {cfg.load_from}' if cfg.get('load_from') else ''
    _check_intact(resume, 'resume checkpoint', ': delete it, or resume from an earlier one with --resume PATH')
    cfg.resume, cfg.load_from = True, resume
    return f'resuming from {resume}'


def _check_intact(path: str, what: str, fix: str = '') -> None:
    """InputError (``what``, then ``fix``) unless ``path`` is a complete checkpoint whose every archive member
    passes its CRC check (torch itself reads flipped bytes inside a tensor without noticing)."""
    check_checkpoint_file(path, what)
    try:
        with zipfile.ZipFile(path) as archive:
            corrupt = archive.testzip()
    except (zipfile.BadZipFile, OSError) as error:
        corrupt = str(error)
    if corrupt is not None:
        raise InputError(f'{what} {path} is corrupt ({corrupt} fails its check){fix}')


def check_data(cfg: Config, *loaders: str) -> None:
    """InputError naming the first missing dataset folder or file (``data_root``, ``ann_file``,
    ``data_prefix``) of the given dataloaders, with the fix; datasets that download themselves pass."""
    for loader in loaders:
        for dataset in _datasets((cfg.get(loader) or {}).get('dataset')):
            missing = _missing_path(dataset)
            if missing:
                raise InputError(f'{loader}: {missing} not found (dataset {dataset.get("type")}): put the '
                                 'dataset there (README, "Data"), or run on the tiny datasets with --tiny')


def _datasets(node):
    """The dataset dicts of a dataloader's ``dataset`` (wrappers such as ConcatDataset nest them)."""
    if isinstance(node, dict):
        if any(key in node for key in ('data_root', 'ann_file', 'data_prefix')):
            yield node
        for value in node.values():
            yield from _datasets(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _datasets(item)


def _missing_path(dataset: dict) -> Optional[str]:
    name = str(dataset.get('type', '')).rpartition('.')[2]
    if dataset.get('download', name in DOWNLOADING_DATASETS):
        return None
    root = dataset.get('data_root') or ''
    prefix = dataset.get('data_prefix')
    relative = [dataset.get('ann_file')] + (list(prefix.values()) if isinstance(prefix, dict) else [prefix])
    paths = ([root] if root else []) + [osp.join(root, p) for p in relative if isinstance(p, str) and p]
    return next((path for path in paths if '://' not in path and not osp.exists(path)), None)


def _unique_experiment_name(cfg: Config) -> None:
    """Give the second and later runners of a process their own ``experiment_name``: mmengine names the
    logger, message hub and visualizer instances by it (plus a timestamp in seconds), so two runners
    started in the same second shared them, and the second wrote into the first's (maybe deleted) work dir."""
    count = next(_runner_count)
    if count > 1 and cfg.get('experiment_name') is None:
        stem = osp.splitext(osp.basename(cfg.filename))[0] if cfg.filename else 'run'
        cfg.experiment_name = f'{stem}_run{count}'


def build_runner(cfg: Config) -> Runner:
    """The config's runner, as ``Runner.from_cfg`` (or the config's ``runner_type``) builds it: its hooks are
    the config's own (this project's configs declare atomic checkpoints, reseeding and the checkpoint checks:
    configs/_base_/denoiserep_runtime.py). A config value its builders refuse, or a missing or truncated
    ``load_from``: InputError. Also joins a torchrun process group on a machine without CUDA (which mmengine
    cannot), and gives a second runner of the process its own ``experiment_name``."""
    _unique_experiment_name(cfg)
    if cfg.get('launcher', 'none') == 'pytorch' and not torch.cuda.is_available():
        _init_cpu_process_group(cfg)
    if cfg.get('load_from'):
        check_checkpoint_file(cfg.load_from, 'load_from checkpoint')
    try:
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    except (ValueError, TypeError, KeyError, AssertionError) as error:  # what builders raise on bad config values
        raise InputError(f'cannot build the run from the config: {first_line(error)}') from error
    return runner
