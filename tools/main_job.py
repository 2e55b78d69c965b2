"""The main job: Mask R-CNN SwinV2-T, baseline -> DenoiseRep -> fused -> test, on the tiny COCO data.

    python tools/main_job.py [--work-dir work_dirs/main_job] [--full]

Runs the project's own tools one after the other, exactly as a user types them:
  1. tools/train.py on the baseline config (a short training),
  2. tools/train.py on the DenoiseRep config from the baseline checkpoint, through its phases,
  3. tools/fuse_ckpt.py on the DenoiseRep checkpoint,
  4. tools/test.py --out on the unfused DenoiseRep model,
  5. tools/test.py --out with the *baseline* config on the fused checkpoint,
and checks that the two prediction dumps agree. With ``--tiny`` (the default) every step runs on the tiny
COCO data on a CPU in minutes; ``--full`` runs the full-scale configs on data/coco instead. Each step's
log goes to WORK_DIR/logs/; the console shows one progress line per step and a summary at the end.
"""
import argparse
import os
import os.path as osp
import pickle
import re
import subprocess
import sys
import time

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BASELINE = 'configs/mask_rcnn_swinv2_t_coco.py'
DENOISEREP = 'configs/mask_rcnn_swinv2_t_denoiserep_coco.py'
# Keep every detection (the tiny models are barely trained), so that the comparison has boxes to compare.
TEST_OPTIONS = ['--cfg-options', 'model.test_cfg.rcnn.score_thr=0.0']
PROGRESS = re.compile(r'(Epoch\((?:train|val|test)\)\s*\[[^\]]*\](?:\s*\[[^\]]*\])?|Iter\(\w+\)\s*\[[^\]]*\])')


def run_step(index: int, total: int, title: str, args: list, log_path: str) -> float:
    """Run ``python args`` in the repository root, logging to ``log_path`` with a live progress line."""
    start = time.time()
    with open(log_path, 'w') as log:
        process = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in process.stdout:
            log.write(line)
            match = PROGRESS.search(line)
            if match:
                print(f'\r[{index}/{total}] {title}: {match.group(1):<40} {time.time() - start:6.0f} s',
                      end='', flush=True)
        process.wait()
    elapsed = time.time() - start
    status = 'done' if process.returncode == 0 else f'FAILED (exit {process.returncode})'
    print(f'\r[{index}/{total}] {title}: {status:<40} {elapsed:6.0f} s')
    if process.returncode != 0:
        with open(log_path) as log:
            tail = log.readlines()[-15:]
        sys.exit(''.join(tail) + f'main_job: step {index} failed; full log: {log_path}')
    return elapsed


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def compare_predictions(dump_a: str, dump_b: str) -> dict:
    """Max differences between two prediction dumps, matching each box to its nearest same-label box."""
    with open(dump_a, 'rb') as fa, open(dump_b, 'rb') as fb:
        results_a, results_b = pickle.load(fa), pickle.load(fb)
    if len(results_a) != len(results_b):
        raise SystemExit(f'main_job: {len(results_a)} vs {len(results_b)} predicted images')
    box_diff = score_diff = 0.0
    n_boxes = 0
    for a, b in zip(sorted(results_a, key=lambda r: r['img_id']), sorted(results_b, key=lambda r: r['img_id'])):
        pa, pb = a['pred_instances'], b['pred_instances']
        if len(pa['scores']) != len(pb['scores']):
            raise SystemExit(f'main_job: image {a["img_id"]}: {len(pa["scores"])} vs {len(pb["scores"])} boxes')
        same_label = pa['labels'][:, None] == pb['labels'][None, :]
        score_gap = (pa['scores'][:, None] - pb['scores'][None, :]).abs()
        cost = torch.cdist(pa['bboxes'], pb['bboxes'], p=float('inf')) + score_gap
        cost[~same_label] = float('inf')
        if len(cost):
            nearest = cost.argmin(dim=1)
            box_diff = max(box_diff, (pa['bboxes'] - pb['bboxes'][nearest]).abs().max().item())
            score_diff = max(score_diff, (pa['scores'] - pb['scores'][nearest]).abs().max().item())
        n_boxes += len(pa['scores'])
    return dict(images=len(results_a), boxes=n_boxes, max_box_diff=box_diff, max_score_diff=score_diff)


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/main_job')
    parser.add_argument('--full', action='store_true', help='full-scale data and schedule (GPU machines)')
    args = parser.parse_args()
    work = osp.join(ROOT, args.work_dir) if not osp.isabs(args.work_dir) else args.work_dir
    os.makedirs(osp.join(work, 'logs'), exist_ok=True)
    scale = [] if args.full else ['--tiny']
    dirs = {name: osp.join(work, name) for name in ('baseline', 'denoiserep')}
    fused_ckpt = osp.join(work, 'fused.pth')
    dumps = {name: osp.join(work, f'predictions_{name}.pkl') for name in ('unfused', 'fused')}
    log = lambda name: osp.join(work, 'logs', f'{name}.log')  # noqa: E731
    start = time.time()
    steps = 5

    # Seeded, so that every run trains the same models: a 2-epoch detector has near-tied proposal scores,
    # and float32 rounding can reorder them in one run and not in another.
    seed = ['randomness.seed=0', 'randomness.deterministic=True']
    run_step(1, steps, 'train baseline', ['tools/train.py', BASELINE, *scale, '--work-dir', dirs['baseline'],
                                         '--cfg-options', *seed], log('1_train_baseline'))
    baseline_ckpt = last_checkpoint(dirs['baseline'])
    # The config's own optimizer and LR (the tiny run checks the mechanics: its 6 denoise iterations teach the
    # denoisers little; docs/results.md, "Tiny runs").
    run_step(2, steps, 'train DenoiseRep', ['tools/train.py', DENOISEREP, *scale, '--work-dir', dirs['denoiserep'],
                                           '--cfg-options', f'load_from={baseline_ckpt}', *seed],
             log('2_train_denoiserep'))
    denoiserep_ckpt = last_checkpoint(dirs['denoiserep'])
    run_step(3, steps, 'fuse', ['tools/fuse_ckpt.py', DENOISEREP, denoiserep_ckpt, fused_ckpt, *scale],
             log('3_fuse'))
    run_step(4, steps, 'test unfused DenoiseRep', ['tools/test.py', DENOISEREP, denoiserep_ckpt, *scale,
                                                  '--work-dir', osp.join(work, 'test_unfused'),
                                                  '--out', dumps['unfused'], *TEST_OPTIONS], log('4_test_unfused'))
    run_step(5, steps, 'test fused (baseline config)', ['tools/test.py', BASELINE, fused_ckpt, *scale,
                                                       '--work-dir', osp.join(work, 'test_fused'),
                                                       '--out', dumps['fused'], *TEST_OPTIONS], log('5_test_fused'))

    comparison = compare_predictions(dumps['unfused'], dumps['fused'])
    with open(log('3_fuse')) as f:
        fuse_report = [line.strip() for line in f if line.startswith(('max |fused', 'parameters:'))]
    print('\nsummary')
    print(f'  baseline checkpoint:   {osp.relpath(baseline_ckpt, ROOT)}')
    print(f'  DenoiseRep checkpoint: {osp.relpath(denoiserep_ckpt, ROOT)}')
    print(f'  fused checkpoint:      {osp.relpath(fused_ckpt, ROOT)} (loads into {BASELINE})')
    for line in fuse_report:
        print(f'  fuse check: {line}')
    print(f'  predictions, unfused DenoiseRep vs fused baseline model, {comparison["images"]} images, '
          f'{comparison["boxes"]} boxes: max box diff {comparison["max_box_diff"]:.3g} px, '
          f'max score diff {comparison["max_score_diff"]:.3g}')
    print(f'  logs: {osp.relpath(osp.join(work, "logs"), ROOT)}/; wall time {time.time() - start:.0f} s')
    if comparison['max_box_diff'] > 1e-2 or comparison['max_score_diff'] > 1e-4:
        sys.exit('main_job: fused and unfused predictions differ')


if __name__ == '__main__':
    main()
