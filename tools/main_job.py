"""Main job (for now): DenoiseRep add -> train -> fuse on a small CNN with synthetic data, on CPU.

Trains a baseline, converts it with `add_denoisers`, runs the two DenoiseRep phases (denoise, then
finetune), fuses with `fuse_denoisers`, checks that the fused stock model reproduces the trained
model's eval outputs and that it has the baseline's parameter count, and prints a summary.
"""
import argparse
import time

import torch
from torch import nn

from mmdenoiserep import (add_denoisers, denoise_loss, denoiser_report, fuse_denoisers,
                          set_phase)


def make_model(num_classes: int = 4) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=4), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes))


def make_data(n: int, seed: int):
    """16x16 images of a bar at one of 4 orientations, at a random place, plus noise."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=generator)
    images = 1.5 * torch.randn(n, 1, 16, 16, generator=generator)
    offsets = torch.randint(3, 13, (n, 2), generator=generator)
    for i, (label, (r, c)) in enumerate(zip(labels.tolist(), offsets.tolist())):
        for d in range(-3, 4):
            dr, dc = [(0, d), (d, 0), (d, d), (d, -d)][label]
            images[i, 0, min(max(r + dr, 0), 15), min(max(c + dc, 0), 15)] += 2.0
    return images, labels


def run_epochs(model, data, epochs, phase=None, denoise_weight=0.1, lr=0.05):
    if phase is not None:
        set_phase(model, phase)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9)
    images, labels = data
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(labels)).split(64):
            loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
            if phase is not None:
                loss = loss + denoise_weight * denoise_loss(model)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return loss.item()


@torch.no_grad()
def accuracy(model, data):
    model.eval()
    return (model(data[0]).argmax(1) == data[1]).float().mean().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=int, default=3, help='epochs per stage')
    args = parser.parse_args()
    torch.manual_seed(0)
    start = time.time()
    train, test = make_data(2048, seed=0), make_data(512, seed=1)
    model = make_model()
    n_baseline = sum(p.numel() for p in model.parameters())

    print(f'[1/4] baseline training, {args.epochs} epochs')
    run_epochs(model, train, args.epochs)
    print(f'      baseline test accuracy {accuracy(model, test):.4f}')

    add_denoisers(model, example_inputs=test[0][:2])
    n_training = sum(p.numel() for p in model.parameters())
    print('[2/4] add_denoisers:\n' + denoiser_report(model))
    run_epochs(model, train, args.epochs, phase='denoise')
    print(f'      denoise phase done, noise-prediction loss {denoise_loss(model).item():.4f}')
    run_epochs(model, train, args.epochs, phase='finetune')
    print(f'[3/4] finetune phase done, test accuracy (fused path) {accuracy(model, test):.4f}')

    with torch.no_grad():
        expected = model.eval()(test[0])
    fuse_denoisers(model)
    with torch.no_grad():
        max_diff = (model.eval()(test[0]) - expected).abs().max().item()
    stock = make_model()
    stock.load_state_dict(model.state_dict(), strict=True)
    print(f'[4/4] fused: stock model loads the state_dict strictly; test accuracy {accuracy(stock, test):.4f}')
    print('summary:')
    print(f'  parameters: baseline {n_baseline}, while training {n_training}, fused {sum(p.numel() for p in model.parameters())}')
    print(f'  max |fused - unfused| on {len(test[1])} test images: {max_diff:.3g}')
    print(f'  wall time {time.time() - start:.1f} s')
    if max_diff > 1e-4:
        raise SystemExit(f'fused outputs differ from the unfused model by {max_diff:.3g}')


if __name__ == '__main__':
    main()
