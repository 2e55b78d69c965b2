"""tools/benchmark.py on a small DenoiseRep config: the fused model has exactly the baseline's parameters
and FLOPs, the unfused model more parameters; every measurement is there and written to JSON."""
import json
from pathlib import Path

from tool_helpers import load_tool

ROOT = Path(__file__).resolve().parents[2]
benchmark = load_tool('benchmark')
RESNET18 = ['model.backbone.backbone.depth=18', 'model.head.in_channels=512',
            'model.backbone.example_input_shape=[1,3,64,64]']


def test_benchmark_report(tmp_path, capsys):
    out = tmp_path / 'bench.json'
    assert benchmark.main(['configs/resnet50_denoiserep_in1k.py', '--tiny', '--batch', '2', '--shape', '3', '64', '64',
                           '--repeats', '2', '--train-repeats', '1', '--json', str(out), '--cfg-options',
                           *RESNET18]) == 0
    report = json.loads(out.read_text())
    params, flops = report['params'], report['flops']
    # A (C_in x C_in) of each of ResNet-18's 20 convs (bias-free: no a): the stem, 4 stages (downsamples too)
    inputs = [3] + [64] * 4 + [64, 128, 64, 128, 128] + [128, 256, 128, 256, 256] + [256, 512, 256, 512, 512]
    denoiser_params = sum(c * c for c in inputs)
    assert params['fused'] == params['baseline'] and params['unfused'] == params['baseline'] + denoiser_params
    assert flops['fused'] == flops['baseline'] > 0
    assert set(report['latency_seconds']) == {'baseline', 'baseline (copy)', "unfused (eval, W' cached)",
                                              "unfused (eval, W' per forward)", 'fused'}
    assert all(0 < v['min'] <= v['median'] for v in report['latency_seconds'].values())
    assert report['latency_seconds']['baseline']['paired_ratio'] == 1.0  # each round against itself
    assert report['latency_seconds']['baseline']['ratio_interval'] == [1.0, 1.0]
    assert all(low <= v['paired_ratio'] <= high for v in report['latency_seconds'].values()
               for low, high in [v['ratio_interval']])
    assert set(report['train']) == {'baseline', 'denoise phase: full model, loss_positions=1',
                                   'denoise phase: backbone only (as DenoiseRepHook trains), loss_positions=1',
                                   'denoise phase: backbone only, loss_positions=0.25', 'finetune phase'}
    assert all(0 < v['min'] <= v['median'] and v['peak_bytes'] >= 0 for v in report['train'].values())
    printed = capsys.readouterr().out
    assert '| fused | ' in printed and '| denoise phase: backbone only (as DenoiseRepHook trains), loss' in printed


def test_a_config_without_denoisers_is_refused(capsys):
    assert benchmark.main(['configs/resnet50_in1k.py', '--tiny', '--no-train']) == 1
    assert 'builds no denoising layers' in capsys.readouterr().err


def test_median_interval_brackets_the_median_of_resamples():
    import random
    assert benchmark.median_interval([2.0] * 9, random.Random(0)) == [2.0, 2.0]
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    low, high = benchmark.median_interval(values, random.Random(0))
    assert 2.0 <= low < 5.0 < high <= 8.0  # the median's spread under resampling, well inside the range
