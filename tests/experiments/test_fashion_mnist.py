"""tools/experiments/fashion_mnist.py: the data preparation, the paired statistics, and (slow) a --quick run
through tools/train.py, fuse_ckpt.py and test.py on a slice of the real data."""
import gzip
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tool_helpers import load_tool

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'tools' / 'experiments' / 'fashion_mnist.py'
fashion_mnist = load_tool('experiments/fashion_mnist')


def test_missing_data_says_how_to_get_it(tmp_path):
    with pytest.raises(fashion_mnist.ExperimentError, match='apt-get install dataset-fashion-mnist'):
        fashion_mnist.prepare_data(str(tmp_path / 'nowhere'), str(tmp_path / 'data'))
    assert not (tmp_path / 'data').exists()


def test_data_is_unpacked_once_and_atomically(tmp_path):
    source = tmp_path / 'source'
    source.mkdir()
    for index, name in enumerate(fashion_mnist.FILES):
        with gzip.open(source / f'{name}.gz', 'wb') as f:
            f.write(bytes([index]) * 10)
    target = tmp_path / 'data' / 'fashion_mnist'
    fashion_mnist.prepare_data(str(source), str(target))
    assert sorted(os.listdir(target)) == sorted(fashion_mnist.FILES)
    assert (target / fashion_mnist.FILES[2]).read_bytes() == bytes([2]) * 10
    assert os.listdir(tmp_path / 'data') == ['fashion_mnist']  # no temporary folder left
    (source / f'{fashion_mnist.FILES[0]}.gz').unlink()
    fashion_mnist.prepare_data(str(source), str(target))  # already there: the source is not read


def test_paired_summary_matches_a_hand_computation():
    per_seed = {0: dict(baseline=80.0, control=81.0, denoiserep=81.5),
                1: dict(baseline=79.0, control=80.0, denoiserep=80.2),
                2: dict(baseline=81.0, control=82.0, denoiserep=82.9)}
    summary = fashion_mnist.summarize(per_seed)
    diffs = [0.5, 0.2, 0.9]
    mean = sum(diffs) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2)
    half = 4.302652729911275 * sd / math.sqrt(3)  # t_{0.975, 2}
    assert summary['difference']['mean'] == pytest.approx(mean)
    assert summary['difference']['ci95'] == pytest.approx([mean - half, mean + half])
    assert summary['arms']['control']['mean'] == pytest.approx(81.0)
    assert summary['arms']['control']['std'] == pytest.approx(1.0)
    assert '| DenoiseRep - control (paired) | +0.53, 95% CI [' in fashion_mnist.table(summary, False)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quick_run(tmp_path):
    if not all((Path(fashion_mnist.SOURCE) / f'{name}.gz').is_file() for name in fashion_mnist.FILES) and \
            not all((Path(fashion_mnist.DATA) / name).is_file() for name in fashion_mnist.FILES):
        pytest.fail('Fashion-MNIST is missing: apt-get install dataset-fashion-mnist (.ci/run installs it)')
    result = subprocess.run([sys.executable, str(SCRIPT), '--quick', '--out', str(tmp_path / 'out'),
                             '--work-dir', str(tmp_path / 'runs')], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    summary = json.loads((tmp_path / 'out' / 'results.json').read_text())
    assert summary['quick'] and summary['seeds'] == [0, 1]
    for arm in ('baseline', 'control', 'denoiserep'):
        assert all(10 < v <= 100 for v in summary['arms'][arm]['values'])  # better than chance (10 classes)
    assert (tmp_path / 'out' / 'fashion_mnist.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    print(f'\n{(tmp_path / "out" / "results.md").read_text()}--quick in {summary["seconds"]:.0f} s')
