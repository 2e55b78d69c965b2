"""tools/analyze_denoisers.py: per-layer noise-prediction losses and weight changes of a DenoiseRep
checkpoint, checked against an independent computation (float64, from method.md's formulas); bad inputs
fail in one line, with a non-zero exit and no output file.

The model is the tiny ResNet-18 classifier with DenoiseRep (20 converted convs, steps 20..1); the
checkpoints are made here, not trained: all-zero denoisers, and hand-set ones.
"""
import contextlib
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from config_helpers import load
from mmengine.runner import Runner, set_random_seed
from tool_helpers import load_tool

from mmdenoiserep import set_phase
from mmdenoiserep.core.phases import enter_phase
from mmdenoiserep.apis import build_model

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools' / 'analyze_denoisers.py'
CONFIG = 'configs/resnet50_denoiserep_in1k.py'
OPTIONS = ['model.backbone.backbone.depth=18', 'model.head.in_channels=512',
           'model.backbone.example_input_shape=[1,3,64,64]']
SEED = 3
BATCHES = 2  # of the zero-denoiser run
ZERO_LOSS = math.sqrt(2 / math.pi) + 1  # E|eps| + E eps^2 = 1.798
ZERO_LOSS_STD = 1.9905  # std of |eps| + eps^2: sqrt(E e^2 + 2 E|e|^3 + E e^4 - 1.798^2), E|e|^3 = 2 sqrt(2/pi)
DEAD = 32  # the stem's BN zeroes its first DEAD channels: those inputs of layer1.0.conv1 are exactly 0
HAND_SET = 'backbone.layer1.0.conv1'  # A = I/s on the dead channels: predicts their noise exactly
RANDOM_SET = 'backbone.layer2.0.conv1'  # A random


def schedule(step, num_steps=1000, beta_range=(1e-4, 2e-3)):
    """(beta_t, abar_t) of the linear DDPM schedule (method.md section 2), float64."""
    betas = torch.linspace(*beta_range, num_steps, dtype=torch.float64)
    return betas[step - 1].item(), torch.cumprod(1 - betas, 0)[step - 1].item()


def tool_module():
    return load_tool('analyze_denoisers')


def run_in_process(*args):
    """(exit code or message, stdout) of the tool's main() in this process, run from the repository."""
    out = io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(out):
        try:
            tool_module().main([*map(str, args)])
            code = 0
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue()


def tool_args(checkpoint, out_dir, *extra, config=CONFIG, options=OPTIONS):
    return [config, checkpoint, '--tiny', '--out-dir', out_dir, '--seed', SEED, *extra, '--cfg-options',
            *options]


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """The model and config; checkpoints: zero denoisers, hand-set denoisers, fused, a key missing."""
    folder = tmp_path_factory.mktemp('analyze')
    with contextlib.chdir(ROOT):
        cfg = load(CONFIG, *OPTIONS)
    torch.manual_seed(0)
    model = build_model(cfg)  # with the config's data_preprocessor, as the Runner and the tool build it
    paths = dict(zero=folder / 'zero.pth', hand=folder / 'hand.pth', fused=folder / 'fused.pth',
                 missing=folder / 'missing.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), paths['zero'])
    torch.save(dict(state_dict={k: v for k, v in model.state_dict().items() if '.denoiser.' not in k}, meta={}),
               paths['fused'])

    with torch.no_grad():
        model.backbone.bn1.weight[:DEAD] = 0
        model.backbone.bn1.bias[:DEAD] = 0
        layer = model.get_submodule(HAND_SET)
        _, abar = schedule(layer.step)
        a = torch.zeros_like(layer.denoiser.weight)
        a[range(DEAD), range(DEAD)] = 1 / math.sqrt(1 - abar)
        layer.denoiser.weight.copy_(a)
        other = model.get_submodule(RANDOM_SET).denoiser.weight
        other.copy_(torch.randn(other.shape, generator=torch.Generator().manual_seed(1)) * 0.01)
    state = model.state_dict()
    torch.save(dict(state_dict=state, meta={}), paths['hand'])
    torch.save(dict(state_dict={k: v for k, v in state.items() if k != f'{RANDOM_SET}.denoiser.weight'}),
               paths['missing'])
    return cfg, model, paths


def report(out_dir):
    return json.loads((out_dir / 'denoisers.json').read_text())


@pytest.fixture(scope='module')
def zero_run(setup, tmp_path_factory):
    """The command line on the zero-denoiser checkpoint, two batches."""
    _, _, paths = setup
    out_dir = tmp_path_factory.mktemp('zero_out')
    args = tool_args(paths['zero'], out_dir, '--batches', BATCHES)
    result = subprocess.run([sys.executable, str(TOOL), *map(str, args)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, report(out_dir), out_dir


@pytest.fixture(scope='module')
def hand_run(setup, tmp_path_factory):
    _, _, paths = setup
    out_dir = tmp_path_factory.mktemp('hand_out')
    code, stdout = run_in_process(*tool_args(paths['hand'], out_dir))
    assert code == 0, code
    return stdout, report(out_dir)


def test_zero_denoisers_ratio_is_one_and_weight_change_is_c3_minus_one(zero_run):
    stdout, data, out_dir = zero_run
    rows = data['layers']
    assert [r['step'] for r in rows] == list(range(20, 0, -1))
    assert rows[0]['name'] == 'backbone.conv1' and rows[-1]['name'] == 'backbone.layer4.1.conv2'
    for r in rows:
        beta, abar = schedule(r['step'])
        assert r['calls'] == BATCHES
        assert r['loss_trained'] == r['loss_zero'] and r['ratio'] == 1.0  # exactly: A x + a = 0
        assert r['noise_level'] == pytest.approx(math.sqrt(1 - abar), rel=1e-12)
        c3 = 1 / math.sqrt(1 - beta)  # W' = c3 W when A = 0
        # float32 W' (as deployed): c3 is rounded to float32 (within 2^-24 of it, 1e-3 of c3 - 1)
        assert r['rel_weight_change'] == pytest.approx(c3 - 1, abs=2 ** -23)
    assert data['summary']['learned'] == 0 and data['summary']['layers'] == 20
    assert data['summary']['batches'] == BATCHES
    # stdout: the markdown table (header, rule, 20 rows), the summary line, where the files are
    table = [line for line in stdout.splitlines() if line.startswith('|')]
    assert len(table) == 22 and table[1].startswith('| --- |')
    assert f'| 20 | `backbone.conv1` | 0.0486 | {BATCHES} | ' in table[2]
    assert table[2].endswith(' | 1.0000 | 6.807e-05 |')
    assert '0 of 20 denoising layers have loss ratio < 0.99' in stdout
    assert (out_dir / 'denoisers.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert sorted(p.name for p in out_dir.iterdir()) == ['denoisers.json', 'denoisers.png']  # no temp files


def test_zero_predictor_loss_is_near_its_expectation(zero_run):
    """E loss(0, eps) = sqrt(2/pi) + 1 for eps ~ N(0, 1): every layer within 6 standard errors."""
    _, data, _ = zero_run
    rows = data['layers']
    assert rows[0]['elements'] == BATCHES * 2 * 3 * 64 * 64  # batches of 2 64x64 RGB images into the stem
    for r in rows:
        assert abs(r['loss_zero'] - ZERO_LOSS) < 6 * ZERO_LOSS_STD / math.sqrt(r['elements']), r
    elements = sum(r['elements'] for r in rows)
    mean = sum(r['loss_zero'] * r['elements'] for r in rows) / elements
    assert abs(mean - ZERO_LOSS) < 6 * ZERO_LOSS_STD / math.sqrt(elements)
    assert data['summary']['zero_loss_expected'] == {'l1+l2': pytest.approx(1.7978845608)}


def recorded_inputs(cfg, model, names):
    """The inputs of the layers ``names`` on the tool's first batch (same seed), via forward pre-hooks,
    in the denoise phase as the tool (and DenoiseRepHook) runs it."""
    captured = {}
    handles = [model.get_submodule(name).register_forward_pre_hook(
        lambda _module, args, name=name: captured.setdefault(name, args[0].detach().clone())) for name in names]
    enter_phase(model, 'denoise')
    try:
        with contextlib.chdir(ROOT), torch.no_grad():
            set_random_seed(SEED)
            loader = Runner.build_dataloader(cfg.train_dataloader, seed=SEED)
            data = model.data_preprocessor(next(iter(loader)), True)
            model(**data, mode='loss')
    finally:
        for handle in handles:
            handle.remove()
        set_phase(model, 'joint')
    return captured


def expected_row(model, name, x):
    """Loss of A x_t (+ a) and of 0 against eps, and ||W' - W|| / ||W||, in float64 (method.md 3, 4)."""
    layer = model.get_submodule(name)
    step = layer.step
    beta, abar = schedule(step)
    generator = torch.Generator().manual_seed(SEED * 1000003 + step)  # the tool's documented noise draws
    eps = torch.randn(x.shape, generator=generator).double()
    x_t = math.sqrt(abar) * x.double() + math.sqrt(1 - abar) * eps
    a = layer.denoiser.weight.detach().double()  # (C, C): a bias-free conv gets a bias-free denoiser
    assert layer.denoiser.bias is None
    pred = torch.einsum('ij,njhw->nihw', a, x_t)

    def loss(p):
        return ((p - eps).abs().mean() + ((p - eps) ** 2).mean()).item()

    trained, zero = loss(pred), loss(torch.zeros_like(eps))
    w = layer.weight.detach().double()
    c3, c1 = 1 / math.sqrt(1 - beta), beta / (math.sqrt(1 - abar) * math.sqrt(1 - beta))
    fused = torch.einsum('ojhw,ji->oihw', w, c3 * torch.eye(a.shape[0], dtype=torch.float64) - c1 * a)
    return dict(loss_trained=trained, loss_zero=zero, ratio=trained / zero,
                rel_weight_change=(torch.linalg.norm(fused - w) / torch.linalg.norm(w)).item())


def test_hand_set_predictors_match_an_independent_computation(setup, hand_run):
    cfg, model, _ = setup
    stdout, data = hand_run
    rows = {r['name']: r for r in data['layers']}
    inputs = recorded_inputs(cfg, model, [HAND_SET, RANDOM_SET])
    assert (inputs[HAND_SET][:, :DEAD] == 0).all() and (inputs[HAND_SET][:, DEAD:] != 0).any()
    for name in (HAND_SET, RANDOM_SET):
        expected = expected_row(model, name, inputs[name])
        assert rows[name]['elements'] == inputs[name].numel()
        for key, value in expected.items():
            assert rows[name][key] == pytest.approx(value, rel=1e-5, abs=1e-7), (name, key)
    # The dead half of the channels is predicted exactly: the loss is about that of the live half alone.
    assert 0.4 < rows[HAND_SET]['ratio'] < 0.6
    assert rows[RANDOM_SET]['ratio'] > 1
    others = [r for name, r in rows.items() if name not in (HAND_SET, RANDOM_SET)]
    assert all(r['ratio'] == 1.0 for r in others)
    assert data['summary']['learned'] == 1 and data['summary']['best_layer'] == HAND_SET
    assert '1 of 20 denoising layers have loss ratio < 0.99' in stdout
    assert f'`{HAND_SET}`' in stdout


@pytest.mark.parametrize('case, message', [
    ('missing_config', 'config file not found'),
    ('missing_checkpoint', 'checkpoint not found'),
    ('fused', 'has no denoiser parameters'),
    ('missing', 'does not match the model of'),
    ('no_denoisers', 'builds no denoising layers'),
    ('batches', '--batches must be a positive number'),
])
def test_bad_inputs_fail_in_one_line_without_output(setup, tmp_path, case, message):
    _, _, paths = setup
    out_dir = tmp_path / 'out'
    checkpoint = dict(missing_checkpoint=tmp_path / 'nothing.pth').get(case, paths.get(case, paths['zero']))
    config = {'missing_config': 'configs/missing.py', 'no_denoisers': 'configs/resnet50_in1k.py'}.get(case, CONFIG)
    options = ['model.backbone.depth=18', 'model.head.in_channels=512'] if case == 'no_denoisers' else OPTIONS
    extra = ['--batches', 0] if case == 'batches' else []
    code, _ = run_in_process(*tool_args(checkpoint, out_dir, *extra, config=config, options=options))
    assert isinstance(code, str) and len(code.splitlines()) == 1, code
    assert code.startswith('analyze_denoisers.py: error: ') and message in code, code
    assert not out_dir.exists()


def test_command_line_error_is_one_line_on_stderr(setup, tmp_path):
    _, _, paths = setup
    out_dir = tmp_path / 'out'
    result = subprocess.run([sys.executable, str(TOOL), *map(str, tool_args(paths['fused'], out_dir))],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if 'error' in line.lower()]
    assert errors == [f'analyze_denoisers.py: error: {paths["fused"]} has no denoiser parameters '
                      '(already fused, or not a DenoiseRep checkpoint)'], result.stderr[-2000:]
    assert 'Traceback' not in result.stderr and result.stdout == ''
    assert not out_dir.exists()
