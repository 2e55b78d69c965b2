"""The command-line tools reject bad input with one line on stderr and a non-zero exit."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
