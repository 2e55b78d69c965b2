"""The command-line tools reject bad input with one line on stderr and a non-zero exit."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / 'configs/mask_rcnn_swinv2_t_coco.py')


@pytest.mark.parametrize('args, message', [
    (['tools/train.py', 'configs/missing.py'], 'train.py: error: config file not found'),
    (['tools/test.py', 'configs/missing.py', CONFIG], 'test.py: error: config file not found'),
    (['tools/test.py', CONFIG, 'missing.pth'], 'test.py: error: checkpoint not found'),
    (['tools/test.py', CONFIG, CONFIG, '--out', 'x.json'], 'test.py: error: --out must be a .pkl'),
    (['tools/fuse_ckpt.py', 'configs/missing.py', CONFIG, 'out.pth'], 'fuse_ckpt.py: error: '),
    (['tools/make_tiny_data.py', '--only', 'cityscapes'], 'error: argument --only'),
])
def test_bad_arguments(args, message, tmp_path):
    result = subprocess.run([sys.executable, *[str(ROOT / a) if a.startswith('tools/') else a for a in args]],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if 'error' in line]
    assert len(lines) == 1 and message in lines[0], result.stderr[-1500:]
    assert 'Traceback' not in result.stderr
    assert not list(tmp_path.iterdir())


def test_setup_again_installs_and_builds_nothing():
    """On a set-up machine the README commands only check the environment (no mmcv rebuild)."""
    result = subprocess.run(['bash', 'tools/setup_env.sh', 'python', '-c', 'import mmcv.ops; print("ok")'],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith('ok'), result.stderr[-1500:]
    assert '[setup_env]' not in result.stderr  # every install or build step logs a line


def test_dist_train_prints_the_first_ranks_error_last(tmp_path):
    """Under torchrun each rank's one-line error is buried under its traceback report: the launcher prints
    rank 0's line again, last, and exits non-zero (here: no dataset at data/imagenet, without --tiny)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, PORT=str(port),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get('PATH', '')]))
    result = subprocess.run(['bash', 'tools/dist_train.sh', 'configs/resnet50_denoiserep_in1k.py', '2',
                             '--work-dir', str(tmp_path / 'work')],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('train.py: error: train_dataloader: data/imagenet not found'), result.stderr[-3000:]
    assert last.endswith('or run on the tiny datasets with --tiny')
