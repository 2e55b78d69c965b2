"""A DenoiseRep run killed with SIGKILL at random moments resumes to the bit-identical end state (slow).

tools/train.py on the tiny classifier through both phases (denoise, finetune, denoise, finetune: 4 epochs of
5 iterations), seeded and deterministic, keeping one checkpoint (``max_keep_ckpts=1``, the setting where
mmengine's own hook deletes the old checkpoint before writing the new one). The run is killed after
seeded random iterations and once while a checkpoint is being written, then restarted with ``--resume``
each time, until it finishes; after every kill the ``last_checkpoint`` pointer must name a complete file.
"""
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from mmdenoiserep.utils import load_checkpoint_file

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
EPOCHS, ITERS = 4, 5  # 10 images, batch 2
OPTIONS = ['model.backbone.backbone.depth=18', 'model.head.in_channels=512',
           'model.backbone.example_input_shape=[1,3,64,64]', 'train_dataloader.dataset.indices=10',
           f'train_cfg.max_epochs={EPOCHS}', 'train_cfg.val_begin=1000000', 'randomness.seed=0',
           'randomness.deterministic=True', 'default_hooks.logger.interval=1',
           'default_hooks.checkpoint.max_keep_ckpts=1']
PROGRESS = re.compile(r'Epoch\(train\)\s+\[(\d+)\]\[\s*(\d+)/(\d+)\]')


def command(work_dir):
    return [sys.executable, 'tools/train.py', 'configs/resnet50_denoiserep_in1k.py', '--tiny', '--work-dir',
            str(work_dir), '--resume', '--cfg-options', *OPTIONS]


def run_to_end(work_dir):
    result = subprocess.run(command(work_dir), cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def run_and_kill(work_dir, kill_at_iteration=None, during_save=False, delay=0.0):
    """Start (resuming), kill it after the logged global iteration ``kill_at_iteration`` (+ ``delay`` s)
    or while a checkpoint temp file exists; return the last logged iteration and whether it was killed."""
    process = subprocess.Popen(command(work_dir), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    seen = [0]
    killed = threading.Event()

    def kill():
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed.set()

    def watch_saves():  # kill as soon as a checkpoint is being written
        while process.poll() is None and not killed.is_set():
            if any(name.endswith('.tmp') and name.startswith('.epoch_') for name in os.listdir(work_dir)):
                kill()
            time.sleep(0.002)

    if during_save:
        threading.Thread(target=watch_saves, daemon=True).start()
    for line in process.stdout:
        match = PROGRESS.search(line)
        if match:
            epoch, iteration, per_epoch = map(int, match.groups())
            seen[0] = (epoch - 1) * per_epoch + iteration
            if kill_at_iteration is not None and seen[0] >= kill_at_iteration and not killed.is_set():
                threading.Timer(delay, kill).start()
                kill_at_iteration = None
    process.wait(timeout=900)
    return seen[0], killed.is_set(), process.returncode


def final_state(work_dir):
    return load_checkpoint_file(str(work_dir / f'epoch_{EPOCHS}.pth'))['state_dict']


@pytest.mark.timeout(1800)
def test_killed_run_resumes_bit_identical(tmp_path):
    reference_dir, killed_dir = tmp_path / 'reference', tmp_path / 'killed'
    killed_dir.mkdir()
    run_to_end(reference_dir)
    rng = random.Random(0)
    targets = sorted(rng.sample(range(1, EPOCHS * ITERS), 5))  # 5 random iterations of the 20
    plan = [dict(kill_at_iteration=t, delay=rng.uniform(0, 0.5)) for t in targets[:2]] + [dict(during_save=True)]
    plan += [dict(kill_at_iteration=t, delay=rng.uniform(0, 0.5)) for t in targets[2:]]
    kills = []
    for step in plan:
        last, killed, code = run_and_kill(killed_dir, **step)
        if killed:
            kills.append((step, last))
            assert code == -signal.SIGKILL
            pointer = killed_dir / 'last_checkpoint'
            if pointer.exists():  # names a complete checkpoint, which loads
                load_checkpoint_file(pointer.read_text().strip())['state_dict']
    print(f'killed {len(kills)} times: ' + ', '.join('during a checkpoint save' if step.get('during_save') else
                                                      f'after iteration {last} of {EPOCHS * ITERS}'
                                                      for step, last in kills))
    assert len(kills) >= 5 and any(step.get('during_save') for step, _ in kills), kills
    run_to_end(killed_dir)
    expected, actual = final_state(reference_dir), final_state(killed_dir)
    assert set(expected) == set(actual)
    different = [key for key in expected if not torch.equal(expected[key], actual[key])]
    assert not different, different[:5]
    assert not [name for name in os.listdir(killed_dir) if name.endswith('.tmp')]  # killed saves cleaned up
    assert sorted(name for name in os.listdir(killed_dir) if name.endswith('.pth')) == [f'epoch_{EPOCHS}.pth']
