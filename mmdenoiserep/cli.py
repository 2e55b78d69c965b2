"""What the command-line tools share: their config arguments, config loading, and one-line errors.

Building the config's model or runner: `mmdenoiserep.apis`.
"""
import argparse
import os
import os.path as osp
import sys
from typing import NoReturn, Optional

import torch
from mmengine.config import Config, DictAction

from .utils import allow_mmengine_checkpoints

__all__ = ['add_config_args', 'load_config', 'exit_with_error', 'print_once']


def add_config_args(parser: argparse.ArgumentParser, launcher: bool = True) -> None:
    """--cfg-options, --tiny (and --launcher, --local-rank), as in the OpenMMLab tools."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (applied after --tiny)')
    parser.add_argument('--tiny', action='store_true',
                        help='run on the tiny datasets under data/tiny (made if missing) with a short CPU '
                        'schedule; see mmdenoiserep/testing/tiny_config.py')
    if launcher:
        parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                            help='job launcher')
        parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace, work_dir: Optional[str] = None, training: bool = False) -> Config:
    """The config of ``args.config`` with --tiny, --cfg-options, --launcher and the work dir applied.

    The default work dir is ``work_dirs/<config name>``, ``work_dirs/tiny/<config name>`` under --tiny (tiny
    runs never resume or overwrite full-scale ones). ``training`` with --tiny: the run starts from the tiny
    baseline where the config starts from a trained baseline (`mmdenoiserep.testing.tiny_config.tiny_load_from`),
    and says so in one line. Only --tiny imports `mmdenoiserep.testing`.
    """
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    launcher = getattr(args, 'launcher', 'none')
    os.environ.setdefault('LOCAL_RANK', str(getattr(args, 'local_rank', 0)))
    allow_mmengine_checkpoints()
    cfg = Config.fromfile(args.config)
    start = None
    if args.tiny:
        from .testing.tiny_config import TINY_DATA_ROOT, tiny_config, tiny_load_from
        from .testing.tiny_data import make_tiny_data
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


def _use_cpu_distributed(cfg: Config) -> None:
    """gloo instead of nccl, and DDP without device_ids, for multi-process runs on CPUs."""
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


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
