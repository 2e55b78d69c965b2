"""What tools/train.py, tools/test.py and tools/fuse_ckpt.py share: config loading and runner building.

They work for mmdet, mmseg and mmpretrain configs alike: the config's ``default_scope`` picks the
toolbox, mmengine's Runner does the rest.
"""
import argparse
import copy
import datetime
import itertools
import os
import os.path as osp
import sys
import zipfile
from typing import NoReturn, Optional, Tuple

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, DictAction
from mmengine.hooks import CheckpointHook
from mmengine.registry import DATA_SAMPLERS, MODELS, RUNNERS, init_default_scope
from mmengine.runner import Runner, find_latest_checkpoint

from .engine import FusedCheckpointCheckHook, ReseedHook, UnfusedCheckpointCheckHook
from .tiny import TINY_DATA_ROOT, tiny_config
from .tiny_data import make_tiny_data
from .utils import InputError, allow_mmengine_checkpoints, check_checkpoint_file, first_line

__all__ = ['add_config_args', 'load_config', 'build_model', 'build_runner', 'check_data', 'exit_with_error',
           'print_once', 'resolve_resume', 'tiny_load_from', 'total_batch_size']

#: datasets that download themselves when ``download`` is not False (mmpretrain's defaults)
DOWNLOADING_DATASETS = ('CIFAR10', 'CIFAR100', 'MNIST', 'FashionMNIST')
_runner_count = itertools.count(1)


def add_config_args(parser: argparse.ArgumentParser, launcher: bool = True) -> None:
    """--cfg-options, --tiny (and --launcher, --local-rank), as in the OpenMMLab tools."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (applied after --tiny)')
    parser.add_argument('--tiny', action='store_true',
                        help=f'run on the tiny datasets under {TINY_DATA_ROOT} (made if missing) with a '
                        'short CPU schedule; see mmdenoiserep/tiny.py')
    if launcher:
        parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                            help='job launcher')
        parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace, work_dir: Optional[str] = None, training: bool = False) -> Config:
    """The config of ``args.config`` with --tiny, --cfg-options, --launcher and the work dir applied.

    The default work dir is ``work_dirs/<config name>``, ``work_dirs/tiny/<config name>`` under --tiny (tiny
    runs never resume or overwrite full-scale ones). ``training`` with --tiny: the run starts from the tiny
    baseline where the config starts from a trained baseline (`tiny_load_from`), and says so in one line.
    """
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    launcher = getattr(args, 'launcher', 'none')
    os.environ.setdefault('LOCAL_RANK', str(getattr(args, 'local_rank', 0)))
    allow_mmengine_checkpoints()
    cfg = Config.fromfile(args.config)
    start = None
    if args.tiny:
        make_tiny_data(TINY_DATA_ROOT)  # skips datasets that are already complete
        config_load_from = cfg.get('load_from')
        tiny_config(cfg)
        if training:
            cfg.load_from, start = tiny_load_from(config_load_from)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if start and 'load_from' not in (args.cfg_options or {}):
        print_once(start)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', *(['tiny'] if args.tiny else []),
                                osp.splitext(osp.basename(args.config))[0])
    if launcher != 'none' and not torch.cuda.is_available():
        _use_cpu_distributed(cfg)
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


def print_once(line: str) -> None:
    """Print ``line`` to stderr in the first process of a launch only (``RANK`` 0, or no launcher)."""
    if os.environ.get('RANK', '0') == '0':
        print(line, file=sys.stderr)


def exit_with_error(tool: str, error: BaseException) -> NoReturn:
    """Exit with status 1 and one line, ``TOOL: error: MESSAGE``. Under tools/torchrun.sh (dist_train.sh) the
    line also goes to ``$MMDENOISEREP_ERROR_FILE.rank<RANK>``, which the launcher prints last."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    message = f'{tool}: error: {lines[0]}'
    error_file = os.environ.get('MMDENOISEREP_ERROR_FILE')
    if error_file:
        with open(f'{error_file}.rank{os.environ.get("RANK", "0")}', 'w') as f:
            f.write(message + '\n')
    sys.exit(message)


def build_model(cfg: Config, model_cfg: Optional[dict] = None) -> torch.nn.Module:
    """The model of ``cfg`` (or ``model_cfg``, e.g. the baseline form of ``cfg.model``) under the config's
    ``default_scope``, with the config-level ``data_preprocessor`` as the Runner adds it.

    Built from a deep copy: some builders write into the dict they are given (mmdet's DETRHead puts a tensor
    into ``loss_cls.class_weight``), so a second model built from the same config would fail or differ.
    """
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model_cfg = copy.deepcopy(cfg.model if model_cfg is None else model_cfg)
    if cfg.get('data_preprocessor') is not None and isinstance(model_cfg, dict):
        model_cfg.setdefault('data_preprocessor', copy.deepcopy(cfg.data_preprocessor))
    return MODELS.build(model_cfg)


def _use_cpu_distributed(cfg: Config) -> None:
    """gloo instead of nccl, and DDP without device_ids, for multi-process runs on CPUs."""
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


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
    _check_resume_checkpoint(resume)
    cfg.resume, cfg.load_from = True, resume
    return f'resuming from {resume}'


def _check_resume_checkpoint(path: str) -> None:
    """InputError unless ``path`` is a complete checkpoint whose every archive member passes its CRC check."""
    check_checkpoint_file(path, 'resume checkpoint')
    try:
        with zipfile.ZipFile(path) as archive:
            corrupt = archive.testzip()
    except (zipfile.BadZipFile, OSError) as error:
        corrupt = str(error)
    if corrupt is not None:
        raise InputError(f'resume checkpoint {path} is corrupt ({corrupt} fails its check): delete it, or resume '
                         'from an earlier one with --resume PATH')


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


def build_runner(cfg: Config, test: bool = False) -> Runner:
    """The config's runner (a config value its builders refuse, or a missing or truncated ``load_from``:
    InputError), made safe to kill and resume: its CheckpointHook replaced by
    `AtomicCheckpointHook` (same arguments), `ReseedHook` registered (a resumed run draws the random
    numbers of an uninterrupted one), and `UnfusedCheckpointCheckHook` registered (refuses unfused
    checkpoints for models without denoisers); ``test``: also `FusedCheckpointCheckHook` (refuses a
    checkpoint without denoiser weights for a model with denoisers)."""
    _unique_experiment_name(cfg)
    if cfg.get('launcher', 'none') == 'pytorch' and not torch.cuda.is_available():
        _init_cpu_process_group(cfg)
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint is not None and checkpoint.get('type') in ('CheckpointHook', CheckpointHook):
        checkpoint['type'] = 'mmdenoiserep.AtomicCheckpointHook'
    if cfg.get('load_from'):
        check_checkpoint_file(cfg.load_from, 'load_from checkpoint')
    try:
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    except (ValueError, TypeError, KeyError, AssertionError) as error:  # what builders raise on bad config values
        raise InputError(f'cannot build the run from the config: {first_line(error)}') from error
    runner.register_hook(ReseedHook())
    runner.register_hook(UnfusedCheckpointCheckHook())
    if test:
        runner.register_hook(FusedCheckpointCheckHook())
    return runner
