"""Per-layer diagnostics of a trained DenoiseRep checkpoint: what did each denoiser learn?

    python tools/analyze_denoisers.py CONFIG CHECKPOINT [--tiny] [--cfg-options ...] [--out-dir DIR]
                                      [--batches N] [--seed S]

Builds the DenoiseRep model of CONFIG, loads the unfused CHECKPOINT exactly, runs ``--batches`` batches of
the training dataloader (through the model's data_preprocessor, ``mode='loss'``, under no_grad) in the
denoise phase as DenoiseRepHook runs it (train mode, running statistics frozen), so that every denoising
layer records the inputs its weight is applied to, and reports for each converted layer, in step order
(t = L, the first layer executed, down to t = 1):

- its step t and noise level s = sqrt(1 - abar_t);
- the noise-prediction loss (method.md section 3: x_t = sqrt(abar_t) x + s eps, loss(A x_t + a, eps), the
  layer's ``noise_loss``) of the trained denoiser on the recorded inputs, that of the zero predictor
  (A = 0, a = 0: predicting zeros, the initial state) on the same noise draws, and their ratio
  (trained / zero; < 1 where the denoiser learned something; method.md section 7). The zero predictor's
  expected loss is sqrt(2/pi) + 1 = 1.798 under 'l1+l2';
- the relative weight change ||W' - W||_F / ||W||_F of fusion (W' of ``fused_weights()``; c3 - 1 ~ 1e-4
  for a zero predictor).

Losses average over all elements of all recorded calls of a layer (each call's loss weighted by its number
of elements). The noise of the layer with step t is drawn, call after call, from a CPU torch.Generator
seeded with ``S * 1000003 + t``; the data come from ``mmengine.runner.set_random_seed(S)`` and the
training dataloader built with seed S (as the training runner does).

Writes a markdown table and a one-line summary to stdout, and ``denoisers.json`` and ``denoisers.png``
(ratio and relative weight change against the step) to --out-dir (default
work_dirs/analyze_denoisers/<config name>), each atomically. Any failure prints one line and exits
non-zero, and writes no file.
"""
import argparse
import io
import itertools
import json
import math
import os.path as osp
import sys

import torch
from mmengine.logging import MMLogger
from mmengine.runner import Runner, set_random_seed

import mmdenoiserep.models  # noqa: F401  (registers mmdenoiserep.DenoiseRepBackbone)
from mmdenoiserep import denoising_layers
from mmdenoiserep.apis import build_model
from mmdenoiserep.cli import add_config_args, load_config
from mmdenoiserep.core.phases import enter_phase
from mmdenoiserep.core.layers import NOISE_LOSSES
from mmdenoiserep.utils import (InputError, first_line, load_state_dict_exact, read_denoiserep_checkpoint,
                                write_atomically)

PROG = 'analyze_denoisers.py'
LEARNED = 0.99  # a layer whose loss ratio (trained / zero predictor) is below this learned something
#: E loss(0, eps) for eps ~ N(0, 1): E|eps| = sqrt(2/pi), E eps^2 = 1.
ZERO_LOSS_EXPECTED = {'l1': math.sqrt(2 / math.pi), 'l2': 1.0, 'l1+l2': math.sqrt(2 / math.pi) + 1.0}
JSON_NAME, PNG_NAME = 'denoisers.json', 'denoisers.png'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.strip().splitlines()[0])
    parser.add_argument('config', help='the DenoiseRep config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='the trained (unfused) DenoiseRep checkpoint')
    parser.add_argument('--out-dir', help='folder of denoisers.json and denoisers.png '
                        '(default: work_dirs/analyze_denoisers/<config name>)')
    parser.add_argument('--batches', type=int, default=1, help='training batches to run (default: 1)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the data and the noise draws (default: 0)')
    add_config_args(parser, launcher=False)
    args = parser.parse_args(argv)
    if args.out_dir is None:
        args.out_dir = osp.join('work_dirs', 'analyze_denoisers', osp.splitext(osp.basename(args.config))[0])
    return args


def noise_seed(seed: int, step: int) -> int:
    """Seed of the CPU generator of the noise of the layer with step ``step``."""
    return seed * 1000003 + step


# ---------------------------------------------------------------------------------------------- input
def check_args(args) -> None:
    if args.batches < 1:
        raise InputError(f'--batches must be a positive number, got {args.batches}')
    if osp.exists(args.out_dir) and not osp.isdir(args.out_dir):
        raise InputError(f'--out-dir is a file, expected a folder: {args.out_dir}')


def load_model(args, state_dict: dict):
    """(config, model with the checkpoint loaded exactly, on the GPU if there is one)."""
    cfg = load_config(args)
    model = build_model(cfg)
    if not denoising_layers(model):
        raise InputError(f'{args.config} builds no denoising layers (no DenoiseRepBackbone in its model)')
    try:
        load_state_dict_exact(model, state_dict)
    except ValueError as error:
        raise InputError(f'{args.checkpoint} does not match the model of {args.config}: {error}') from error
    return cfg, model.to('cuda' if torch.cuda.is_available() else 'cpu')


# ------------------------------------------------------------------------------------------- analysis
def denoise_mode(model: torch.nn.Module) -> None:
    """Train mode in the denoise phase, as DenoiseRepHook runs it: the original computation (W, b), every
    denoising layer recording its inputs (also in frozen stages), running statistics frozen."""
    enter_phase(model, 'denoise')  # also forgets recorded calls


@torch.no_grad()
def run_batches(cfg, model: torch.nn.Module, batches: int, seed: int):
    """Yield once per training batch, after the model's forward on it (the layers hold its calls)."""
    set_random_seed(seed)
    try:
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=seed)
    except Exception as error:
        raise InputError(f'cannot build the training dataloader: {first_line(error)}') from error
    denoise_mode(model)
    count = 0
    for data in itertools.islice(loader, batches):
        try:
            data = model.data_preprocessor(data, True)
            if isinstance(data, dict):
                model(**data, mode='loss')
            else:
                model(*data, mode='loss')
        except Exception as error:  # what the model cannot take fails deep inside it, with various types
            raise InputError(f'the model fails on a training batch: {first_line(error)}') from error
        count += 1
        yield count
    if count == 0:
        raise InputError('the training dataloader yields no batch')


class LayerStats:
    """Element-weighted sums of the noise-prediction losses of one layer over its recorded calls."""

    def __init__(self, name: str, layer, seed: int):
        self.name, self.layer = name, layer
        self.generator = torch.Generator().manual_seed(noise_seed(seed, layer.step))
        self.calls = self.elements = 0
        self.trained = self.zero = 0.0

    @torch.no_grad()
    def add(self, x: torch.Tensor) -> None:
        layer, loss = self.layer, NOISE_LOSSES[self.layer.noise_loss]
        noise = torch.randn(x.shape, generator=self.generator, dtype=x.dtype).to(x.device)
        abar = layer.schedule.alpha_bar
        noisy = abar ** 0.5 * x + (1.0 - abar) ** 0.5 * noise
        self.trained += loss(layer.predict_noise(noisy), noise).item() * x.numel()
        self.zero += loss(torch.zeros_like(noise), noise).item() * x.numel()
        self.calls += 1
        self.elements += x.numel()

    @torch.no_grad()
    def row(self) -> dict:
        layer = self.layer
        weight, fused = layer.weight.detach().double(), layer.fused_weights()[0].detach().double()
        trained = self.trained / self.elements if self.elements else None
        zero = self.zero / self.elements if self.elements else None
        return dict(
            name=self.name, type=type(layer).__name__, step=layer.step,
            alpha_bar=layer.schedule.alpha_bar, noise_level=math.sqrt(1.0 - layer.schedule.alpha_bar),
            c3=layer.schedule.c3, c1=layer.schedule.c1, noise_loss=layer.noise_loss,
            calls=self.calls, elements=self.elements, loss_trained=trained, loss_zero=zero,
            ratio=trained / zero if self.elements and zero > 0 else None,
            rel_weight_change=(torch.linalg.norm(fused - weight) / torch.linalg.norm(weight)).item())


def analyze(cfg, model: torch.nn.Module, batches: int, seed: int):
    """(rows of the layers in step order, number of batches run)."""
    layers = sorted(denoising_layers(model), key=lambda item: (-item[1].step, item[0]))
    stats = [LayerStats(name, layer, seed) for name, layer in layers]
    count = 0
    for count in run_batches(cfg, model, batches, seed):
        for stat in stats:
            inputs, stat.layer.recorded_inputs = stat.layer.recorded_inputs, []
            for x in inputs:
                stat.add(x)
    return [stat.row() for stat in stats], count


# --------------------------------------------------------------------------------------------- output
def _fmt(value, spec: str) -> str:
    return '-' if value is None else format(value, spec)


def markdown_table(rows) -> str:
    header = ['step', 'layer', 'noise sqrt(1-abar)', 'calls', 'loss trained', 'loss zero', 'ratio',
              '\\|W\'-W\\|/\\|W\\|']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(' --- ' for _ in header) + '|']
    for r in rows:
        cells = [str(r['step']), f"`{r['name']}`", f"{r['noise_level']:.4f}", str(r['calls']),
                 _fmt(r['loss_trained'], '.4f'), _fmt(r['loss_zero'], '.4f'), _fmt(r['ratio'], '.4f'),
                 f"{r['rel_weight_change']:.3e}"]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def summary(rows, batches: int) -> dict:
    measured = [r for r in rows if r['ratio'] is not None]
    learned = [r for r in measured if r['ratio'] < LEARNED]
    best = min(measured, key=lambda r: r['ratio']) if measured else None
    return dict(layers=len(rows), measured=len(measured), learned=len(learned), threshold=LEARNED,
                batches=batches, best_layer=best and best['name'], best_ratio=best and best['ratio'],
                zero_loss_expected={r['noise_loss']: ZERO_LOSS_EXPECTED[r['noise_loss']] for r in rows})


def summary_line(s: dict) -> str:
    line = (f"{s['learned']} of {s['layers']} denoising layers have loss ratio < {s['threshold']} "
            f"(learned something) on {s['batches']} batch{'es' if s['batches'] != 1 else ''}")
    if s['measured'] < s['layers']:
        line += f"; {s['layers'] - s['measured']} layers were not called"
    if s['best_layer'] is not None:
        line += f"; lowest ratio {s['best_ratio']:.4f} ({s['best_layer']})"
    expected = ', '.join(f'{k} {v:.3f}' for k, v in s['zero_loss_expected'].items())
    return line + f'; zero-predictor loss expected {expected}'


def plot_png(rows, title: str) -> bytes:
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(8, 6), tight_layout=True)
    top, bottom = fig.subplots(2, 1, sharex=True)
    measured = [r for r in rows if r['ratio'] is not None]
    top.plot([r['step'] for r in measured], [r['ratio'] for r in measured], 'o-', ms=3)
    ratios = [r['ratio'] for r in measured]
    if ratios and min(ratios) > 0 and max(ratios) / min(ratios) > 20:
        top.set_yscale('log')
    top.axhline(1.0, color='gray', lw=0.8, ls='--')
    top.axhline(LEARNED, color='red', lw=0.8, ls=':', label=f'{LEARNED} (learned)')
    top.set_ylabel('loss trained / zero predictor')
    top.legend(loc='lower right', fontsize='small')
    top.set_title(title, fontsize='medium')
    changes = [r['rel_weight_change'] for r in rows]
    bottom.plot([r['step'] for r in rows], changes, 'o-', ms=3, color='C1')
    if all(c > 0 for c in changes):
        bottom.set_yscale('log')
    bottom.set_ylabel("||W' - W||_F / ||W||_F")
    bottom.set_xlabel('diffusion step t (first layer executed = L, last = 1)')
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    if rows:
        bottom.invert_xaxis()  # execution order, left to right
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=100)
    return buffer.getvalue()


def analyze_checkpoint(args) -> None:
    check_args(args)
    _, state_dict = read_denoiserep_checkpoint(args.checkpoint)
    if not MMLogger.check_instance_created(PROG):  # the build log would interleave with the table
        MMLogger.get_instance(PROG, log_level='WARNING')
    cfg, model = load_model(args, state_dict)
    rows, batches = analyze(cfg, model, args.batches, args.seed)
    stats = summary(rows, batches)
    report = dict(config=osp.abspath(args.config), checkpoint=osp.abspath(args.checkpoint), seed=args.seed,
                  batches_requested=args.batches, summary=stats, layers=rows)
    json_bytes = (json.dumps(report, indent=2, allow_nan=False) + '\n').encode()
    png_bytes = plot_png(rows, f'{osp.basename(args.config)}: {osp.basename(args.checkpoint)}')

    print(markdown_table(rows))
    print()
    print(summary_line(stats))
    try:
        for name, data in ((JSON_NAME, json_bytes), (PNG_NAME, png_bytes)):
            write_atomically(osp.join(args.out_dir, name), lambda f, data=data: f.write(data))
    except OSError as error:
        raise InputError(f'cannot write {osp.join(args.out_dir, name)}: {error.strerror or error}') from error
    print(f'wrote {osp.join(args.out_dir, JSON_NAME)} and {osp.join(args.out_dir, PNG_NAME)}')


def main(argv=None):
    args = parse_args(argv)
    try:
        analyze_checkpoint(args)
    except (InputError, FileNotFoundError) as error:
        sys.exit(f'{PROG}: error: {error}')


if __name__ == '__main__':
    main()
