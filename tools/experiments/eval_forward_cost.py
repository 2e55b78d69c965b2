"""A plain eval forward of an unfused DenoiseRep ResNet-50 against the baseline (issue 21, item 11).

    python tools/experiments/eval_forward_cost.py [--rounds 9] [--batch 4] [--threads 1]

mmpretrain's ResNet-50 (random weights) and a copy with ``add_denoisers`` (random denoisers), both
``model.eval()`` and called under ``torch.no_grad()`` with no other context: the unfused model reuses W' by
default. Two more rows: ``fuse_denoisers`` of a copy (the stock layers holding W': what the unfused model
should cost) and a copy that opts out (``reuse_fused_weights = False`` on every layer: W' in every forward).
After a warm-up round the models run interleaved in a seeded random order; prints the minimum seconds per
model over the rounds and its ratio to the baseline's minimum.
"""
import argparse
import copy
import random
import time

import torch
from mmengine.config import Config

from mmdenoiserep import add_denoisers, denoising_layers, fuse_denoisers
from mmdenoiserep.apis import build_model


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=9)
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    baseline = build_model(Config(dict(default_scope='mmpretrain', model=dict(type='ResNet', depth=50))))
    unfused = add_denoisers(copy.deepcopy(baseline), example_inputs=torch.randn(1, 3, 224, 224))
    with torch.no_grad():
        for _, layer in denoising_layers(unfused):
            layer.denoiser.weight.normal_(0, 0.01)
    opted_out = copy.deepcopy(unfused)
    for _, layer in denoising_layers(opted_out):
        layer.reuse_fused_weights = False
    models = {'baseline': baseline, 'fused': fuse_denoisers(copy.deepcopy(unfused)), 'unfused (default)': unfused,
              'unfused (opt-out)': opted_out}
    for model in models.values():
        model.eval()  # (mmpretrain's ResNet.train returns None: not chained)
    x = torch.randn(args.batch, 3, 224, 224)
    times = {name: [] for name in models}
    order = random.Random(0)
    with torch.no_grad():
        for round_ in range(args.rounds + 1):  # round 0: warm-up
            names = list(models)
            order.shuffle(names)
            for name in names:
                start = time.perf_counter()
                models[name](x)
                if round_:
                    times[name].append(time.perf_counter() - start)
    base = min(times['baseline'])
    print(f'ResNet-50, batch {args.batch} x 3 x 224 x 224, {args.threads} thread(s), torch {torch.__version__}, '
          f'min of {args.rounds} interleaved rounds')
    for name, seconds in times.items():
        print(f'{name:20s} {min(seconds):.4f} s  {min(seconds) / base:.3f}x')


if __name__ == '__main__':
    main()
