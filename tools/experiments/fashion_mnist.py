"""DenoiseRep against its fair control on real data that fits a CPU: LeNet-5 on Fashion-MNIST, paired seeds.

For each seed s, with the user's tools (subprocesses):

    tools/train.py configs/lenet5_fashion_mnist.py                  baseline, seed s
    tools/train.py configs/lenet5_control_fashion_mnist.py          + 2 epochs at lr / 10 from it, seed s
    tools/train.py configs/lenet5_denoiserep_fashion_mnist.py       + 1 denoise + 1 finetune epoch, seed s
    tools/fuse_ckpt.py configs/lenet5_denoiserep_fashion_mnist.py CKPT OUT   into the stock LeNet-5
    tools/test.py configs/lenet5_fashion_mnist.py CKPT              each arm's checkpoint (DenoiseRep: fused)

The control and the DenoiseRep run start from the same baseline checkpoint with the same seed, so they see
the same data order: the pair differs only by the method. Written to --out: results.json, results.md (test
accuracy per arm, mean +- std; the paired difference DenoiseRep - control, mean and 95% t-interval) and
fashion_mnist.png. --quick: 3000 training and 1000 test images, a 1-epoch baseline, 2 seeds (a CI smoke run;
its figures mean nothing).

Data: the four IDX files of the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist),
unpacked into data/fashion_mnist (what mmpretrain's FashionMNIST reads) on the first run.

Usage: python tools/experiments/fashion_mnist.py [--seeds 0 1 2] [--quick] [--out DIR] [--work-dir DIR]
"""
import argparse
import gzip
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # noqa: E402
from mmdenoiserep.utils import write_atomically  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SOURCE = '/usr/share/datasets/fashion-mnist'
DATA = osp.join(ROOT, 'data', 'fashion_mnist')
FILES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
CONFIGS = {arm: osp.join('configs', f'lenet5_{infix}fashion_mnist.py')
           for arm, infix in (('baseline', ''), ('control', 'control_'), ('denoiserep', 'denoiserep_'))}
ARMS = ('baseline', 'control', 'denoiserep')
QUICK = ['train_dataloader.dataset.indices=3000', 'val_dataloader.dataset.indices=1000',
         'test_dataloader.dataset.indices=1000']
ACCURACY = re.compile(r'accuracy/top1: ([\d.]+)')


class ExperimentError(Exception):
    """A one-line reason the experiment cannot go on."""


def prepare_data(source: str = SOURCE, target: str = DATA) -> str:
    """Unpack the four .gz files of ``source`` into ``target`` (atomically), unless already there."""
    if all(osp.isfile(osp.join(target, name)) for name in FILES):
        return target
    missing = [name for name in FILES if not osp.isfile(osp.join(source, name + '.gz'))]
    if missing:
        raise ExperimentError(f'Fashion-MNIST not found in {source} (missing {missing[0]}.gz); get it with: '
                              'apt-get update && apt-get install dataset-fashion-mnist')
    os.makedirs(osp.dirname(target), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.fashion_mnist.', dir=osp.dirname(target))
    try:
        for name in FILES:
            with gzip.open(osp.join(source, name + '.gz'), 'rb') as f, open(osp.join(tmp, name), 'wb') as out:
                shutil.copyfileobj(f, out)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    output = result.stdout + result.stderr
    if result.returncode:
        tail = output.strip().splitlines()[-1] if output.strip() else ''
        raise ExperimentError(f'{" ".join(args[:2])} failed (exit {result.returncode}): {tail}')
    return output


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint'), encoding='utf-8') as f:
        return f.read().strip()


def test_accuracy(checkpoint: str, work_dir: str, options: list) -> float:
    """Top-1 test accuracy (percent) of ``checkpoint`` in the baseline model, by tools/test.py."""
    output = run('tools/test.py', CONFIGS['baseline'], checkpoint, '--work-dir', work_dir,
                 *(['--cfg-options', *options] if options else []))
    found = ACCURACY.findall(output)
    if not found:
        raise ExperimentError(f'tools/test.py printed no accuracy/top1 for {checkpoint}')
    return float(found[-1])


def run_seed(seed: int, work_dir: str, quick: bool) -> dict:
    """{arm: test accuracy} of one seed; the DenoiseRep arm is tested fused, in the baseline model."""
    options = [f'randomness.seed={seed}'] + (QUICK if quick else [])
    work = {arm: osp.join(work_dir, f'seed{seed}', arm) for arm in ARMS}
    baseline_options = options + (['train_cfg.max_epochs=1', 'train_cfg.val_interval=1'] if quick else [])
    run('tools/train.py', CONFIGS['baseline'], '--work-dir', work['baseline'], '--cfg-options', *baseline_options)
    checkpoints = {'baseline': last_checkpoint(work['baseline'])}
    for arm in ('control', 'denoiserep'):
        run('tools/train.py', CONFIGS[arm], '--work-dir', work[arm], '--cfg-options', *options,
            f'load_from={checkpoints["baseline"]}')
        checkpoints[arm] = last_checkpoint(work[arm])
    fused = osp.join(work['denoiserep'], 'fused.pth')
    run('tools/fuse_ckpt.py', CONFIGS['denoiserep'], checkpoints['denoiserep'], fused, '--shape', '1', '1', '32', '32')
    checkpoints['denoiserep'] = fused
    test_options = QUICK if quick else []
    return {arm: test_accuracy(checkpoints[arm], osp.join(work[arm], 'test'), test_options) for arm in ARMS}


def t_quantile_975(dof: int) -> float:
    from scipy.stats import t
    return float(t.ppf(0.975, dof))


def summarize(per_seed: dict) -> dict:
    """Mean and sample std per arm; the paired difference DenoiseRep - control with its 95% t-interval."""
    seeds = sorted(per_seed)
    values = {arm: np.array([per_seed[s][arm] for s in seeds]) for arm in ARMS}
    diff = values['denoiserep'] - values['control']
    n = len(seeds)
    half = t_quantile_975(n - 1) * diff.std(ddof=1) / np.sqrt(n) if n > 1 else float('nan')
    return dict(seeds=seeds, arms={arm: dict(mean=float(v.mean()), std=float(v.std(ddof=1)) if n > 1 else 0.0,
                                             values=v.tolist()) for arm, v in values.items()},
                difference=dict(mean=float(diff.mean()), ci95=[float(diff.mean() - half), float(diff.mean() + half)],
                                values=diff.tolist()))


def table(summary: dict, quick: bool) -> str:
    names = {'baseline': 'baseline (LeNet-5, 5 epochs)', 'control': 'control (+2 epochs, no denoising)',
             'denoiserep': 'DenoiseRep (+1 denoise +1 finetune epoch), fused'}
    seeds = summary['seeds']
    lines = [f'| arm | test top-1 (%), mean +- std over seeds {", ".join(map(str, seeds))} | per seed |',
             '| --- | --- | --- |']
    for arm in ARMS:
        a = summary['arms'][arm]
        lines.append(f'| {names[arm]} | {a["mean"]:.2f} +- {a["std"]:.2f} | '
                     f'{", ".join(f"{v:.2f}" for v in a["values"])} |')
    d = summary['difference']
    lines.append(f'| DenoiseRep - control (paired) | {d["mean"]:+.2f}, 95% CI [{d["ci95"][0]:+.2f}, '
                 f'{d["ci95"][1]:+.2f}] | {", ".join(f"{v:+.2f}" for v in d["values"])} |')
    if quick:
        lines.append('\n--quick: 3000 training / 1000 test images, 1-epoch baseline; not a result.')
    return '\n'.join(lines) + '\n'


def plot(summary: dict, file) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    figure = Figure(figsize=(8, 3.2))
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    for index, seed in enumerate(summary['seeds']):
        values = [summary['arms'][arm]['values'][index] for arm in ARMS]
        left.plot(range(3), values, marker='o', alpha=0.7, label=f'seed {seed}')
    left.set_xticks(range(3), ['baseline', 'control', 'DenoiseRep\n(fused)'])
    left.set_ylabel('test top-1 (%)')
    left.set_title('Fashion-MNIST, LeNet-5')
    left.legend(fontsize=7)
    d = summary['difference']
    right.axhline(0, color='grey', lw=0.8)
    right.scatter([0] * len(d['values']), d['values'], color='C0', zorder=3, label='per seed')
    right.errorbar([0.3], [d['mean']], yerr=[[d['mean'] - d['ci95'][0]], [d['ci95'][1] - d['mean']]],
                   fmt='s', color='C3', capsize=4, label='mean, 95% CI')
    right.set_xlim(-0.5, 0.8)
    right.set_xticks([])
    right.set_ylabel('DenoiseRep - control (points)')
    right.set_title('paired difference')
    right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(file, format='png', dpi=110)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', help='seeds (default: 0 1 2; --quick: 0 1)')
    parser.add_argument('--quick', action='store_true', help='a data slice and a short baseline (minutes)')
    parser.add_argument('--out', default='work_dirs/fashion_mnist', help='folder for the table, JSON and plot')
    parser.add_argument('--work-dir', default='work_dirs/fashion_mnist/runs', help='folder of the runs')
    parser.add_argument('--source', default=SOURCE, help=f'folder of the IDX .gz files (default: {SOURCE})')
    args = parser.parse_args(argv)
    args.seeds = args.seeds or ([0, 1] if args.quick else [0, 1, 2])
    if len(set(args.seeds)) < 2:
        parser.error('give at least 2 distinct seeds (a paired interval needs them)')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out, work_dir = (osp.join(ROOT, p) if not osp.isabs(p) else p for p in (args.out, args.work_dir))
    start = time.monotonic()
    try:
        prepare_data(args.source)
        per_seed = {}
        for seed in args.seeds:
            per_seed[seed] = run_seed(seed, work_dir, args.quick)
            print(f'seed {seed}: ' + ', '.join(f'{arm} {acc:.2f}' for arm, acc in per_seed[seed].items()) +
                  f' ({time.monotonic() - start:.0f} s)', flush=True)
    except ExperimentError as error:
        print(f'fashion_mnist.py: error: {error}', file=sys.stderr)
        return 1
    summary = summarize(per_seed)
    summary.update(quick=args.quick, seconds=round(time.monotonic() - start, 1))
    markdown = table(summary, args.quick)

    write_atomically(osp.join(out, 'results.json'), lambda f: f.write((json.dumps(summary, indent=2) + '\n').encode()))
    write_atomically(osp.join(out, 'results.md'), lambda f: f.write(markdown.encode()))
    write_atomically(osp.join(out, 'fashion_mnist.png'), lambda f: plot(summary, f))
    print(markdown + f'written to {out} in {summary["seconds"]:.0f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
