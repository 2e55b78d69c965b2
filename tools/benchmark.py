"""What DenoiseRep costs: parameters, FLOPs, inference latency, training-iteration time and memory.

    python tools/benchmark.py CONFIG [CHECKPOINT] [--tiny] [--batch N] [--shape C H W] [--repeats R]
                              [--compare OTHER_CONFIG [--compare-checkpoint CKPT]] [--json OUT.json]
                              [--cfg-options ...]

CONFIG is a DenoiseRep config (its backbone in ``mmdenoiserep.DenoiseRepBackbone``); CHECKPOINT, if given,
is loaded into the DenoiseRep model (else its initial weights). The models:

- baseline: CONFIG without the wrapper (the stock model), holding the unfused model's W, b;
- unfused: the DenoiseRep model in eval mode, measured as a plain no-grad eval forward runs it (W' computed once
  and reused, the default) and with the reuse opted out (``fused_weights_cached(model, enabled=False)``: W'
  recomputed in every forward);
- fused: ``fuse_denoisers`` of the unfused model (the stock classes, holding W', b');
- baseline (copy): a second copy of the baseline, timed like the others: the noise floor of the comparison
  (two copies of one model differ only by chance);
- compared (with ``--compare OTHER_CONFIG``): the model of another config, as its test runs it (eval, W' cached),
  e.g. one whose denoiser does not fuse (``mmdenoiserep.PostBackboneDenoiser``): it holds
  ``--compare-checkpoint``, else CONFIG's stock weights where their keys match and its own initial weights
  elsewhere; its FLOPs are those of its deployed form (its denoising layers as the stock layers holding W', b').
  OTHER_CONFIG takes the same ``--tiny`` and ``--cfg-options``.

Inference: ``extract_feat`` (backbone and neck, the part DenoiseRep changes; the heads are the same) on a
random (N, C, H, W) batch, float32, no_grad; after a warm-up the models run interleaved in a random order,
``--repeats`` rounds; reported: medians, minima and the median of per-round ratios to the baseline with a 95%
bootstrap interval. The unfused model without the cache runs in a second pass (``--repeats`` / 2 rounds,
against the baseline): it allocates a new W' in every forward, which slows whatever runs after it.
Parameters count the whole model; FLOPs of ``extract_feat`` by mmengine's FlopAnalyzer. Training (``--tiny`` data or the config's, one batch of its train loader): the median time of
a full iteration (forward, backward, SGD step) of the baseline, of a denoise-phase iteration as
DenoiseRepHook runs it (backbone only, noise-prediction losses; also on the full model, as before the
backbone-only path, and with the loss on a fraction of positions, ``--loss-positions``) and of a
finetune-phase iteration; peak memory per iteration kind (CUDA: max allocated; CPU: the growth of the process's peak RSS, Linux).
Prints a markdown table; ``--json`` writes the figures.
"""
import argparse
import contextlib
import copy
import ctypes
import functools
import gc
import json
import os.path as osp
import random
import statistics
import sys
import time
from typing import Tuple

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.runner import Runner

from mmdenoiserep import denoise_loss, denoising_layers, fuse_denoisers, fused_weights_cached
from mmdenoiserep.apis import build_model
from mmdenoiserep.cli import add_config_args, load_config
from mmdenoiserep.core.phases import enter_phase
from mmdenoiserep.models import strip_denoiserep
from mmdenoiserep.utils import InputError, load_state_dict_exact, read_denoiserep_checkpoint, write_atomically


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='a DenoiseRep config')
    parser.add_argument('checkpoint', nargs='?', help='an unfused DenoiseRep checkpoint (optional)')
    parser.add_argument('--batch', type=int, default=4, help='inference batch size (default: 4)')
    parser.add_argument('--shape', type=int, nargs=3, default=(3, 224, 224), metavar=('C', 'H', 'W'),
                        help='inference input shape (default: 3 224 224)')
    parser.add_argument('--repeats', type=int, default=20, help='interleaved rounds (default: 20)')
    parser.add_argument('--train-repeats', type=int, default=5, help='iterations per training kind (default: 5)')
    parser.add_argument('--no-train', action='store_true', help='skip the training measurements')
    parser.add_argument('--loss-positions', type=float, nargs='*', default=(0.25,), metavar='F',
                        help='also measure a denoise iteration with the noise-prediction loss on this fraction '
                             'of positions (default: 0.25)')
    parser.add_argument('--compare', metavar='OTHER_CONFIG',
                        help='also time the model of this config (e.g. a post-backbone denoiser, which does not fuse)')
    parser.add_argument('--compare-checkpoint', metavar='CKPT', help="a checkpoint of --compare's model")
    parser.add_argument('--json', help='write the figures to this JSON file')
    add_config_args(parser, launcher=False)
    return parser.parse_args(argv)


class Features(torch.nn.Module):
    """``extract_feat`` of a model as a module (for the FLOP counter)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, inputs):
        return self.model.extract_feat(inputs) if hasattr(self.model, 'extract_feat') else self.model.backbone(inputs)


def build_models(args):
    cfg = load_config(args)
    unfused = build_model(cfg)
    if not denoising_layers(unfused):
        raise InputError(f'{args.config} builds no denoising layers: give a DenoiseRep config')
    fused = build_model(cfg, model_cfg=strip_denoiserep(cfg.model))
    if denoising_layers(fused):
        raise InputError(f'{args.config}: denoising layers outside a DenoiseRepBackbone do not fuse: give a DenoiseRep '
                         'config, and this one with --compare')
    if args.checkpoint:
        load_state_dict_exact(unfused, read_denoiserep_checkpoint(args.checkpoint)[1])
    start = time.perf_counter()
    state_dict = fuse_denoisers(copy.deepcopy(unfused)).state_dict()
    fuse_seconds = time.perf_counter() - start
    load_state_dict_exact(fused, state_dict)  # the stock model holding the fused weights
    baseline = build_model(cfg, model_cfg=strip_denoiserep(cfg.model))
    # the same stock weights as the unfused model (like with like: random weights of another draw made the
    # latency differ by up to 7% through denormal activations alone)
    load_state_dict_exact(baseline, {k: v for k, v in unfused.state_dict().items() if '.denoiser.' not in k})
    return cfg, baseline, unfused, fused, fuse_seconds


def build_compared(args, unfused) -> Tuple[str, torch.nn.Module]:
    """(row name, model) of ``--compare``: its model holding ``--compare-checkpoint``, else the unfused model's
    weights under the keys and shapes the two share (like with like) and its own initial weights elsewhere."""
    cfg = load_config(argparse.Namespace(**{**vars(args), 'config': args.compare}))
    model = build_model(cfg)
    if args.compare_checkpoint:
        load_state_dict_exact(model, read_denoiserep_checkpoint(args.compare_checkpoint)[1])
    else:
        own = model.state_dict()
        model.load_state_dict({key: value for key, value in unfused.state_dict().items()
                               if key in own and value.shape == own[key].shape}, strict=False)
    return f"compared ({osp.splitext(osp.basename(args.compare))[0]}, eval, W' cached)", model


def deployed(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` with every denoising layer as the stock layer holding W', b' (``model`` if none)."""
    return fuse_denoisers(copy.deepcopy(model)) if denoising_layers(model) else model


@torch.no_grad()
def latencies(models: dict, inputs: torch.Tensor, repeats: int, seed: int = 0) -> dict:
    """{name: dict(median=, min=, paired_ratio=, ratio_interval=, seconds=[...])}: seconds of ``extract_feat``
    per model, the models interleaved in each round in a seeded random order (on a shared CPU the position
    in a round alone shifted times by 5%, and a model that allocates a lot slows the one after it: a fixed
    cyclic order gave every model the same predecessor); ``paired_ratio`` is the median over rounds of the
    model's time / the baseline's in the same round, ``ratio_interval`` a 95% bootstrap interval of that
    median. Each model runs inside its context for the whole measurement (as a validation loop runs inside
    the W' cache)."""
    features = {name: Features(model.eval()) for name, (model, _) in models.items()}
    times = {name: [] for name in models}
    order = random.Random(seed)
    with contextlib.ExitStack() as stack:
        for _, context in models.values():
            stack.enter_context(context())
        for round_ in range(repeats + 2):  # 2 warm-up rounds
            names = list(models)
            order.shuffle(names)
            for name in names:
                start = time.perf_counter()
                features[name](inputs)
                if round_ >= 2:
                    times[name].append(time.perf_counter() - start)
    report = {}
    for name, values in times.items():
        ratios = [t / base for t, base in zip(values, times['baseline'])]
        report[name] = dict(summary(values), paired_ratio=statistics.median(ratios),
                            ratio_interval=median_interval(ratios, random.Random(seed)), seconds=values)
    return report


def median_interval(values: list, rng: random.Random, draws: int = 2000) -> list:
    """[low, high]: the 2.5% and 97.5% percentiles of the median of ``values`` resampled with replacement."""
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(draws))
    return [medians[int(0.025 * draws)], medians[int(0.975 * draws) - 1]]


def summary(seconds: list) -> dict:
    """Median and minimum of repeated timings (a shared virtual CPU drifts and bursts: `latencies` also
    gives the median of per-round ratios to the baseline, which cancels what a round shares)."""
    return dict(median=statistics.median(seconds), min=min(seconds))


def flops(model, inputs) -> int:
    analyzer = FlopAnalyzer(Features(model.eval()), (inputs,))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return int(analyzer.total())


DENOISE_AS_TRAINED = 'denoise phase: backbone only (as DenoiseRepHook trains), loss_positions=1'
TRAIN_KINDS = {  # label: (phase, backbone_only, loss_positions)
    'baseline': (None, False, 1.0),
    'denoise phase: full model, loss_positions=1': ('denoise', False, 1.0),
    DENOISE_AS_TRAINED: ('denoise', True, 1.0),
    'finetune phase': ('finetune', False, 1.0),
}


def train_kinds(loss_positions) -> dict:
    """The iteration kinds measured: TRAIN_KINDS plus a backbone-only denoise kind per fraction in
    ``loss_positions`` (below 1)."""
    kinds = dict(TRAIN_KINDS)
    for fraction in loss_positions:
        if fraction < 1:
            kinds[f'denoise phase: backbone only, loss_positions={fraction:g}'] = ('denoise', True, fraction)
    return kinds


def train_iteration(model, data, phase, backbone_only: bool, positions: float):
    """One training iteration as DenoiseRepHook runs it in ``phase`` (None: a baseline iteration)."""
    if phase is None:
        model.train()
    else:
        enter_phase(model, phase, backbone_only=backbone_only)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    losses = model(**data, mode='loss')
    if phase == 'denoise':
        losses['loss_denoise'] = 0.1 * denoise_loss(model, positions=positions)
    loss, _ = model.parse_losses(losses)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def train_measurements(model_for, data, repeats: int, kinds: dict) -> dict:
    """{label: dict(median=, min= seconds, peak_bytes=)} of each iteration kind: the peak memory of its
    first iteration (also a warm-up), measured one kind after the other, then ``repeats`` rounds of one
    iteration of every kind, interleaved, the order rotated from round to round."""
    steps, results = {}, {}
    for label, (phase, backbone_only, positions) in kinds.items():
        model = model_for(phase)
        steps[label] = functools.partial(train_iteration, model, data, phase, backbone_only, positions)
        gc.collect()
        results[label] = dict(peak_bytes=peak_memory(steps[label]))
    times = {label: [] for label in kinds}
    for round_ in range(repeats):
        for label in rotated(list(kinds), round_):
            start = time.perf_counter()
            steps[label]()
            times[label].append(time.perf_counter() - start)
    return {label: dict(summary(times[label]), **results[label]) for label in kinds}


def rotated(names: list, round_: int) -> list:
    """``names`` starting at position ``round_`` (mod len): each runs first in turn."""
    shift = round_ % len(names)
    return names[shift:] + names[:shift]


def _status_kib(field: str) -> int:
    with open('/proc/self/status', encoding='ascii') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ':'))


def _release_free_heap() -> None:
    """glibc's malloc_trim(0): return freed heap pages to the OS, so that an iteration's peak RSS is not
    hidden by memory an earlier measurement freed but the allocator kept (no-op elsewhere)."""
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_memory(step) -> int:
    """Bytes by which ``step`` raises the peak memory: CUDA max allocated; on the CPU the growth of the
    peak RSS (Linux: VmHWM, reset through /proc/self/clear_refs before the step), else -1."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    try:
        _release_free_heap()
        with open('/proc/self/clear_refs', 'w', encoding='ascii') as f:
            f.write('5')  # reset the peak RSS (VmHWM) to the current RSS
        before = _status_kib('VmRSS')
        step()
        return (_status_kib('VmHWM') - before) * 1024
    except OSError:
        step()
        return -1


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        cfg, baseline, unfused, fused, fuse_seconds = build_models(args)
    except (InputError, FileNotFoundError) as error:
        print(f'benchmark.py: error: {error}', file=sys.stderr)
        return 1
    inputs = torch.randn(args.batch, *args.shape)
    cached = copy.deepcopy(unfused)
    models = {'baseline': (baseline, contextlib.nullcontext),
              'baseline (copy)': (copy.deepcopy(baseline), contextlib.nullcontext),  # the noise floor (A/A)
              "unfused (eval, W' cached)": (cached, lambda: fused_weights_cached(cached)),
              'fused': (fused, contextlib.nullcontext)}
    compared = None
    if args.compare:
        try:
            name, compared = build_compared(args, unfused)
        except (InputError, FileNotFoundError) as error:
            print(f'benchmark.py: error: --compare: {error}', file=sys.stderr)
            return 1
        models[name] = (compared, lambda: fused_weights_cached(compared))
    latency = latencies(models, inputs, args.repeats)
    # apart: recomputing W' allocates the size of all weights per forward, which slows the model run next
    latency["unfused (eval, W' per forward)"] = latencies(
        {'baseline': models['baseline'], 'unfused': (unfused, lambda: fused_weights_cached(unfused, enabled=False))},
        inputs, max(2, args.repeats // 2))['unfused']
    report = dict(config=args.config, batch=args.batch, shape=list(args.shape), torch=torch.__version__,
                  threads=torch.get_num_threads(), fuse_seconds=fuse_seconds,
                  params={name: sum(p.numel() for p in m.parameters()) for name, m in
                          (('baseline', baseline), ('unfused', unfused), ('fused', fused), ('compared', compared))
                          if m is not None},
                  flops={name: flops(m, inputs[:1]) for name, m in
                         (('baseline', baseline), ('fused', fused),
                          ('compared', None if compared is None else deployed(compared))) if m is not None},
                  latency_seconds=latency)
    if compared is not None:
        report['compared'] = args.compare
    if not args.no_train:
        batch = next(iter(Runner.build_dataloader(cfg.train_dataloader)))
        data = unfused.data_preprocessor(batch, True)
        def model_for(phase):
            return copy.deepcopy(baseline if phase is None else unfused)

        kinds = train_kinds(args.loss_positions)
        report['train'] = train_measurements(model_for, data, args.train_repeats, kinds)
    print(table(report))
    if args.json:
        try:
            save_json(report, args.json)
        except OSError as error:
            print(f'benchmark.py: error: cannot write {args.json}: {error.strerror or error}', file=sys.stderr)
            return 1
    return 0


def table(report: dict) -> str:
    latency = report['latency_seconds']
    lines = [f'{report["config"]}: batch {report["batch"]} x {report["shape"]}, {report["threads"]} threads, '
             f'torch {report["torch"]}, fuse_denoisers {report["fuse_seconds"]:.2f} s', '',
             '| model | params | FLOPs (extract_feat, 1 image) | latency median / min | vs baseline (median / min) | '
             'paired ratio (median of per-round ratios) [95% interval] |', '| --- | --- | --- | --- | --- | --- |']
    for name, seconds in latency.items():
        key = name.split(' ')[0]
        flops_text = f'{report["flops"][key] / 1e9:.3f} G' if key in report['flops'] else '-'
        lines.append(f'| {name} | {report["params"][key]:,} | {flops_text} | {_times(seconds, 1e3, "ms")} | '
                     f'{_ratios(seconds, latency["baseline"])} | {seconds["paired_ratio"]:.4f}x '
                     f'[{seconds["ratio_interval"][0]:.4f}, {seconds["ratio_interval"][1]:.4f}] |')
    if 'train' in report:
        train = report['train']
        lines += ['', '| training iteration | time median / min | vs baseline (median / min) | '
                      'peak memory growth (first iteration) |', '| --- | --- | --- | --- |']
        for kind, values in train.items():
            lines.append(f'| {kind} | {_times(values, 1e3, "ms")} | {_ratios(values, train["baseline"])} | '
                         f'{values["peak_bytes"] / 2**20:.0f} MiB |')
    return '\n'.join(lines)


def _times(values: dict, scale: float, unit: str) -> str:
    return f'{values["median"] * scale:.1f} / {values["min"] * scale:.1f} {unit}'


def _ratios(values: dict, base: dict) -> str:
    return f'{values["median"] / base["median"]:.3f}x / {values["min"] / base["min"]:.3f}x'


def save_json(report: dict, path: str) -> None:
    write_atomically(path, lambda f: f.write((json.dumps(report, indent=2) + '\n').encode()))


if __name__ == '__main__':
    sys.exit(main())
