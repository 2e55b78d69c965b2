"""Distributed training for real (slow): tools/dist_train.sh, 2 processes, gloo on CPUs, tiny ImageNet.

ResNet-18 with DenoiseRep (the ImageNet config with depth 18) trains for the 2 epochs of ``--tiny``:
epoch 1 in the 'denoise' phase, epoch 2 in 'finetune', so DDP sees the set of trainable Parameters change
between epochs. A test-only hook (tests/rank_state_hook.py, added to the config's custom_hooks) makes
every rank dump its model state before training, after each epoch and after training. Checked:

- the run exits 0, both phases are logged, and DDP reports no unused-parameter / reduction error;
- the ranks end with bit-identical Parameters (gradients are all-reduced, the update is the same);
- buffers: after the denoise epoch all of them are identical too (batch norm is frozen in eval mode),
  and ``num_batches_tracked`` always is. The batch-norm running statistics of the finetune epoch are
  rank-local by design and not compared: mmengine wraps with ``broadcast_buffers=False`` and the config
  has no SyncBN, so each rank averages the statistics of its own half of the data (and even with
  ``broadcast_buffers=True`` DDP broadcasts rank 0's buffers *before* each forward, so the last
  forward's update would still differ). Checkpoints are written by rank 0, with its statistics;
- on both ranks, the denoise epoch trains only the denoisers, the finetune epoch only the network.
"""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'resnet50_denoiserep_in1k.py'
RESNET18 = ['model.backbone.backbone.depth=18', 'model.head.in_channels=512',
            'model.backbone.example_input_shape=[1,3,64,64]']
RANKS = (0, 1)

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def write_config(tmp_path: Path) -> Path:
    """The project config plus the dump hook (after its own custom hooks, DenoiseRepHook included)."""
    hooks = [hook.to_dict() for hook in Config.fromfile(str(CONFIG)).custom_hooks]
    assert any(hook['type'].endswith('DenoiseRepHook') for hook in hooks)
    hooks.append(dict(type='RankStateDumpHook'))
    config = tmp_path / 'dist_config.py'
    config.write_text(f"_base_ = {str(CONFIG)!r}\n"
                      "custom_imports = dict(imports=['rank_state_hook'], allow_failed_imports=False)\n"
                      f"custom_hooks = {hooks!r}\n")
    return config


def load(work_dir: Path, rank: int, tag: str = '') -> dict:
    return torch.load(work_dir / f'rank{rank}{tag}.pth', weights_only=True)


def differing(a: dict, b: dict) -> list:
    assert a.keys() == b.keys()
    return [name for name in a if not torch.equal(a[name], b[name])]


def split(names, keys):
    """(denoiser names, network names) among ``keys`` whose tensors differ per ``names``."""
    denoiser = {k for k in keys if '.denoiser.' in k}
    return set(names) & denoiser, set(names) - denoiser


@pytest.fixture(scope='module')
def dist_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('dist_train')
    work_dir = tmp_path / 'work'
    env = dict(os.environ, PORT=str(free_port()),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get('PATH', '')]),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / 'tests'), os.environ.get('PYTHONPATH')])))
    command = ['bash', 'tools/dist_train.sh', str(write_config(tmp_path)), str(len(RANKS)), '--tiny',
               '--work-dir', str(work_dir), '--cfg-options', *RESNET18]
    start = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - start
    print(f'\n{" ".join(command)}: exit {result.returncode} in {seconds:.1f} s')
    yield result, work_dir
    for checkpoint in work_dir.glob('*.pth'):  # about 0.4 GB; the logs stay
        checkpoint.unlink()


def test_run_passes_both_phases(dist_run):
    result, _ = dist_run
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "DenoiseRepHook: phase 'denoise' from epoch 1" in output
    assert "DenoiseRepHook: phase 'finetune' from epoch 2" in output
    assert 'Distributed training: True' in output
    # DDP's reduction error, its list of parameters without gradients, and its warning that
    # find_unused_parameters found none unused (each phase leaves the other part's Parameters unused)
    for message in ('finished reduction', 'did not receive grad', 'unused parameters', 'Traceback'):
        assert message not in output


def test_ranks_end_with_identical_parameters(dist_run):
    _, work_dir = dist_run
    final = [load(work_dir, rank) for rank in RANKS]
    assert [state['phase'] for state in final] == ['finetune', 'finetune']
    assert len(final[0]['params']) > 0
    assert differing(final[0]['params'], final[1]['params']) == []
    counters = [{n: b for n, b in state['buffers'].items() if n.endswith('num_batches_tracked')}
                for state in final]
    assert len(counters[0]) > 0 and differing(*counters) == []


def test_buffers_identical_after_the_denoise_epoch(dist_run):
    _, work_dir = dist_run
    epoch1 = [load(work_dir, rank, '_epoch1') for rank in RANKS]
    assert [state['phase'] for state in epoch1] == ['denoise', 'denoise']
    assert differing(epoch1[0]['params'], epoch1[1]['params']) == []
    assert differing(epoch1[0]['buffers'], epoch1[1]['buffers']) == []


@pytest.mark.parametrize('rank', RANKS)
def test_each_phase_trains_its_part(dist_run, rank):
    _, work_dir = dist_run
    start, epoch1, epoch2 = (load(work_dir, rank, tag) for tag in ('_epoch0', '_epoch1', ''))
    keys = start['params'].keys()
    denoiser, network = split(differing(start['params'], epoch1['params']), keys)
    assert denoiser and not network  # denoise: the denoisers train, the network is frozen
    assert differing(start['buffers'], epoch1['buffers']) == []  # batch-norm statistics frozen too
    denoiser, network = split(differing(epoch1['params'], epoch2['params']), keys)
    assert network and not denoiser  # finetune: the network trains, the denoisers are frozen


def test_dist_test_evaluates_the_trained_checkpoint(dist_run):
    """tools/dist_test.sh: 2 processes evaluate the checkpoint of the run above (fused path, gloo)."""
    _, work_dir = dist_run
    env = dict(os.environ, PORT=str(free_port()),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get('PATH', '')]))
    command = ['bash', 'tools/dist_test.sh', str(CONFIG), str(work_dir / 'epoch_2.pth'), str(len(RANKS)),
               '--tiny', '--work-dir', str(work_dir / 'test'), '--cfg-options', *RESNET18]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert 'Distributed training: True' in output and 'Epoch(test)' in output and 'accuracy/top1:' in output
