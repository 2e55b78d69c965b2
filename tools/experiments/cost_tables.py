"""The cost tables of docs/results.md: tools/benchmark.py on the paper's backbones, one fresh process each.

    python tools/experiments/cost_tables.py [--only NAME ...] [--out work_dirs/benchmarks] [--repeats 30]

Each row runs ``tools/benchmark.py CONFIG --tiny`` (random weights, no download; the tiny data for the
training batch) with the input size of its config and ``--loss-positions 0.5 0.25 0.1``; classifiers train
on a batch of 8 at that size, YOLOv3 (batch 8) and SegFormer (batch 2) on their config's batch and
training size, Mask R-CNN SwinV2-T on `--tiny` as it is (batch 2, images resized to fit 160 x 96). Writes OUT/benchmarks.json (every report) and
OUT/benchmarks.md (one summary table, ratios to the baseline of the same run); ``--no-train``: inference
only, OUT/benchmarks_latency.json and .md.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile

from mmdenoiserep.utils import write_atomically

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _classifier(scale_index: int, size: int, batch: int = 8) -> list:
    return [f'train_dataloader.batch_size={batch}', f'train_dataloader.dataset.pipeline.{scale_index}.scale={size}']


BACKBONES = {  # name: (config, batch and shape of the inference input, --cfg-options)
    'ResNet-50': ('configs/resnet50_denoiserep_in1k.py', ['--batch', '4', '--shape', '3', '224', '224'],
                  _classifier(1, 224)),
    'SwinV2-T': ('configs/swinv2_t_denoiserep_in1k.py', ['--batch', '4', '--shape', '3', '256', '256'],
                 _classifier(1, 256)),
    'ViT-B/16': ('configs/vit_b16_denoiserep_cifar10.py', ['--batch', '4', '--shape', '3', '224', '224'],
                 _classifier(2, 224) + ['model.backbone.backbone.img_size=224']),
    'DarkNet-53 (YOLOv3)': ('configs/yolov3_d53_denoiserep_coco.py',
                            ['--batch', '4', '--shape', '3', '320', '320'],
                            ['train_dataloader.dataset.pipeline.4.scale=(320,320)']),
    'MiT-b0 (SegFormer)': ('configs/segformer_mit_b0_denoiserep_ade20k.py',
                           ['--batch', '4', '--shape', '3', '512', '512'],
                           ['train_dataloader.dataset.pipeline.2.scale=(2048,512)',
                            'train_dataloader.dataset.pipeline.3.crop_size=(512,512)']),
    'Mask R-CNN SwinV2-T': ('configs/mask_rcnn_swinv2_t_denoiserep_coco.py',
                            ['--batch', '1', '--shape', '3', '512', '512'], []),
}


def run(name: str, repeats: int, folder: str, train: bool = True) -> dict:
    config, shape_args, options = BACKBONES[name]
    out = osp.join(folder, 'report.json')
    command = [sys.executable, osp.join(ROOT, 'tools', 'benchmark.py'), config, '--tiny', *shape_args,
               '--repeats', str(repeats), '--json', out]
    command += ['--train-repeats', '5', '--loss-positions', '0.5', '0.25', '0.1'] if train else ['--no-train']
    if options:
        command += ['--cfg-options', *options]
    print(f'== {name}: {" ".join(command[1:])}', flush=True)
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    with open(out, encoding='utf-8') as f:
        return json.load(f)


CACHED, PER_FORWARD = "unfused (eval, W' cached)", "unfused (eval, W' per forward)"


def _with_interval(values: dict) -> str:
    """'1.004x [0.991, 1.012]': the median paired ratio and its 95% bootstrap interval."""
    low, high = values['ratio_interval']
    return f'{values["paired_ratio"]:.3f}x [{low:.3f}, {high:.3f}]'


def summary_table(reports: dict) -> str:
    """One row per backbone: ratios to its baseline of the same run (inference: the median of per-round
    ratios, with its 95% interval; training: of medians)."""
    from benchmark import DENOISE_AS_TRAINED  # tools/benchmark.py

    def ratio(values: dict, base: dict) -> str:
        return f'{values["median"] / base["median"]:.2f}x'

    train = all('train' in report for report in reports.values())
    lines = ['| backbone | input | params = | FLOPs = | baseline copy (noise) | fused | unfused eval, W\' cached | '
             'unfused eval, W\' per forward |' + (' baseline step | denoise: full model, all positions | '
                                                    'backbone only | loss_positions 0.25 | 0.1 | finetune |'
                                                    if train else ''),
             '| --- ' * (8 + 6 * train) + '|']
    for name, report in reports.items():
        latency = report['latency_seconds']
        same = ['yes' if report[key]['fused'] == report[key]['baseline'] else 'NO' for key in ('params', 'flops')]
        row = (f'| {name} | {report["batch"]}x{report["shape"][1]}x{report["shape"][2]} | {same[0]} | {same[1]} | ' +
               ' | '.join(_with_interval(latency[key]) for key in
                          ('baseline (copy)', 'fused', CACHED, PER_FORWARD)) + ' |')
        if train:
            steps = report['train']
            row += f' {steps["baseline"]["median"]:.2f} s | ' + ' | '.join(
                ratio(steps[kind], steps['baseline']) for kind in
                ('denoise phase: full model, loss_positions=1', DENOISE_AS_TRAINED,
                 'denoise phase: backbone only, loss_positions=0.25', 'denoise phase: backbone only, loss_positions=0.1',
                 'finetune phase')) + ' |'
        lines.append(row)
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--only', nargs='+', choices=sorted(BACKBONES), help='these rows only')
    parser.add_argument('--out', default=osp.join('work_dirs', 'benchmarks'),
                        help="folder for the results (default: work_dirs/benchmarks; the tables of docs/results.md: docs/results)")
    parser.add_argument('--repeats', type=int, default=30, help='interleaved inference rounds (default: 30)')
    parser.add_argument('--no-train', action='store_true',
                        help='inference only; writes benchmarks_latency.json and .md instead')
    args = parser.parse_args(argv)
    from benchmark import save_json  # tools/benchmark.py
    reports, stem = {}, 'benchmarks_latency' if args.no_train else 'benchmarks'
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only or BACKBONES:
            reports[name] = run(name, args.repeats, folder, train=not args.no_train)
            save_json(reports, osp.join(args.out, f'{stem}.json'))  # each row as soon as it is measured
    table = summary_table(reports)
    print(table)
    write_atomically(osp.join(args.out, f'{stem}.md'), lambda f: f.write((table + '\n').encode()))
    return 0


if __name__ == '__main__':
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    sys.exit(main())
