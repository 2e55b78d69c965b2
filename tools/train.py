"""Train a model from an mmdet, mmseg or mmpretrain config (DenoiseRep configs included)."""
import argparse
import sys

from mmdenoiserep.runner import add_config_args, build_runner, load_config
from mmdenoiserep.utils import InputError, NonFiniteError


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the LR by the batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint, or from the latest in the work dir')
    add_config_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        cfg = load_config(args, work_dir=args.work_dir)
    except (InputError, FileNotFoundError) as error:
        sys.exit(f'train.py: error: {error}')
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            sys.exit('train.py: error: --auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    try:
        build_runner(cfg).train()
    except (InputError, NonFiniteError) as error:
        sys.exit(f'train.py: error: {error}')


if __name__ == '__main__':
    main()
