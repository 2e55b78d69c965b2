"""Test (and evaluate) a checkpoint with an mmdet, mmseg or mmpretrain config."""
import argparse

from mmengine.evaluator import DumpResults

from mmdenoiserep.apis import build_runner, check_data
from mmdenoiserep.cli import add_config_args, exit_with_error, load_config
from mmdenoiserep.utils import InputError, check_checkpoint_file


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument('--out', help='dump the predictions to this pickle file (.pkl)')
    add_config_args(parser)
    args = parser.parse_args()
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out must be a .pkl or .pickle file, got {args.out}')
    return args


def main():
    args = parse_args()
    try:
        cfg = load_config(args, work_dir=args.work_dir)
        check_checkpoint_file(args.checkpoint)
        check_data(cfg, 'test_dataloader')
        cfg.load_from = args.checkpoint
        runner = build_runner(cfg)
        if args.out is not None:
            runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
        runner.test()
    except (InputError, FileNotFoundError) as error:
        exit_with_error('test.py', error)


if __name__ == '__main__':
    main()
