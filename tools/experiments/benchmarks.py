"""The README's cost table: tools/benchmark.py on the paper's backbones, one fresh process each.

    python tools/experiments/benchmarks.py [--only NAME ...] [--out docs/results] [--repeats 20]

Each row runs ``tools/benchmark.py CONFIG --tiny`` (random weights, no download; the tiny data for the
training batch) with the input size of its config and ``--loss-positions 0.5 0.25 0.1``; classifiers train
on a batch of 8 at that size, detectors and segmentors on their config's batch and the tiny pipeline's
sizes (Mask R-CNN SwinV2-T: the issue's `--tiny` target). Writes OUT/benchmarks.json (every report) and
OUT/benchmarks.md (one summary table, ratios to the baseline of the same run, medians and minima).
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
                            ['--batch', '4', '--shape', '3', '320', '320'], []),
    'MiT-b0 (SegFormer)': ('configs/segformer_mit_b0_denoiserep_ade20k.py',
                           ['--batch', '4', '--shape', '3', '512', '512'], []),
    'Mask R-CNN SwinV2-T': ('configs/mask_rcnn_swinv2_t_denoiserep_coco.py',
                            ['--batch', '1', '--shape', '3', '512', '512'], []),
}


def run(name: str, repeats: int, folder: str) -> dict:
    config, shape_args, options = BACKBONES[name]
    out = osp.join(folder, 'report.json')
    command = [sys.executable, osp.join(ROOT, 'tools', 'benchmark.py'), config, '--tiny', *shape_args,
               '--repeats', str(repeats), '--train-repeats', '5', '--loss-positions', '0.5', '0.25', '0.1',
               '--json', out]
    if options:
        command += ['--cfg-options', *options]
    print(f'== {name}: {" ".join(command[1:])}', flush=True)
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    with open(out, encoding='utf-8') as f:
        return json.load(f)


CACHED, PER_FORWARD = "unfused (eval, W' cached)", "unfused (eval, W' per forward)"


def summary_table(reports: dict) -> str:
    """One row per backbone: ratios to its baseline (median / min of the same run)."""
    def ratio(values: dict, base: dict) -> str:
        return f'{values["median"] / base["median"]:.2f} / {values["min"] / base["min"]:.2f}'

    lines = ['| backbone | input | params = | FLOPs = | baseline copy (noise) | fused latency | unfused (W\' cached) | '
             'unfused (W\' per forward) | baseline step | denoise (full model) | denoise (backbone only) | '
             'denoise, loss_positions 0.25 | 0.1 | finetune |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for name, report in reports.items():
        latency, train = report['latency_seconds'], report['train']
        same = ('yes' if report['params']['fused'] == report['params']['baseline'] else 'NO',
                'yes' if report['flops']['fused'] == report['flops']['baseline'] else 'NO')
        lines.append(
            f'| {name} | {report["batch"]}x{report["shape"][1]}x{report["shape"][2]} | {same[0]} | {same[1]} | '
            f'{ratio(latency["baseline (copy)"], latency["baseline"])} | {ratio(latency["fused"], latency["baseline"])} | '
            f'{ratio(latency[CACHED], latency["baseline"])} | {ratio(latency[PER_FORWARD], latency["baseline"])} | '
            f'{train["baseline"]["median"]:.2f} s | '
            + ' | '.join(ratio(train[kind], train['baseline']) for kind in
                         ('denoise (full model)', 'denoise', 'denoise (loss_positions=0.25)',
                          'denoise (loss_positions=0.1)', 'finetune')) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--only', nargs='+', choices=sorted(BACKBONES), help='these rows only')
    parser.add_argument('--out', default=osp.join(ROOT, 'docs', 'results'), help='folder for the results')
    parser.add_argument('--repeats', type=int, default=20, help='interleaved inference rounds (default: 20)')
    args = parser.parse_args(argv)
    from benchmark import save_json  # tools/benchmark.py
    reports = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only or BACKBONES:
            reports[name] = run(name, args.repeats, folder)
            save_json(reports, osp.join(args.out, 'benchmarks.json'))  # each row as soon as it is measured
    table = summary_table(reports)
    print(table)
    write_atomically(osp.join(args.out, 'benchmarks.md'), lambda f: f.write((table + '\n').encode()))
    return 0


if __name__ == '__main__':
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    sys.exit(main())
