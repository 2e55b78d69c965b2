"""Train a model from an mmdet, mmseg or mmpretrain config (DenoiseRep configs included)."""
import argparse
import os
import sys

import torch

from mmdenoiserep.apis import build_runner, check_data, resolve_resume, total_batch_size
from mmdenoiserep.cli import add_config_args, exit_with_error, load_config, print_once
from mmdenoiserep.utils import InputError, NonFiniteError


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the LR by the batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint, or from the latest in the work dir (none yet: start '
                        'from load_from, as without --resume)')
    add_config_args(parser)
    return parser.parse_args()


def scale_lr_to_batch(cfg, auto_scale_lr: bool) -> None:
    """--auto-scale-lr: the LR scaled by (total batch / auto_scale_lr.base_batch_size); without it, one
    warning line (rank 0) when the run's total batch differs from the base the config's LR assumes."""
    world_size = int(os.environ.get('WORLD_SIZE', 1)) if cfg.get('launcher', 'none') != 'none' else 1
    total, is_global = total_batch_size(cfg, world_size)
    base = (cfg.get('auto_scale_lr') or {}).get('base_batch_size')
    if auto_scale_lr:
        if base is None:
            raise InputError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        if not is_global:
            cfg.auto_scale_lr.enable = True  # mmengine scales by world_size x batch_size / base
        elif total != base:  # mmengine would multiply a global batch by the world size again
            cfg.optim_wrapper.optimizer.lr *= total / base
            print(f'train.py: LR scaled by {total}/{base} (the global batch over the base)', file=sys.stderr)
    elif base is not None and total != base:
        per_process = '' if is_global else f' ({world_size} process(es) x {total // max(world_size, 1)})'
        print_once(f'train.py: warning: total batch {total}{per_process} differs from the {base} the config\'s LR '
                   'assumes (auto_scale_lr.base_batch_size): the LR is not scaled; pass --auto-scale-lr to scale '
                   'it linearly')


def main():
    args = parse_args()
    try:
        if args.amp and not torch.cuda.is_available():
            raise InputError("--amp needs a CUDA GPU (mmengine's AmpOptimWrapper) and this machine has none: "
                             'drop --amp')
        cfg = load_config(args, work_dir=args.work_dir, training=True)
        if args.amp:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
        scale_lr_to_batch(cfg, args.auto_scale_lr)
        check_data(cfg, 'train_dataloader', *(['val_dataloader'] if cfg.get('val_cfg') else []))
        start = resolve_resume(cfg, args.resume)
        if start:
            print_once(f'train.py: {start}')
        build_runner(cfg).train()
    except (InputError, NonFiniteError, FileNotFoundError) as error:
        exit_with_error('train.py', error)


if __name__ == '__main__':
    main()
