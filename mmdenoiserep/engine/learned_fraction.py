"""Whether the denoisers learn, measured while training: each layer's noise-prediction loss over the loss of
the zero predictor (eps_hat = 0, the denoiser's initial state) on the same noise.

    ratio_i = sum_w loss_i / sum_w zero_i      over the iterations w of a window (a log interval)

1.0 means the denoiser learned nothing; below 1 it predicts part of the noise (method.md section 7: an affine
denoiser can only gain along near-constant feature directions, so ratios close to 1 are expected at the
default schedule's low noise levels). `DenoiseRepHook` feeds it every training iteration that records a loss
and closes a window every ``log_interval`` iterations.
"""
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor, nn

from ..core import denoising_layers

__all__ = ['LearnedFraction']

#: A layer counts as having learned something below this ratio (the summary line's count).
LEARNED_BELOW = 0.99


class LearnedFraction:
    """Running per-layer sums of (noise-prediction loss, zero predictor's loss) and the last window's ratios."""

    def __init__(self) -> None:
        self._sums: Dict[str, Tuple[Tensor, Tensor]] = {}  # layer -> (sum of losses, sum of zero losses)
        self._first: Optional[int] = None  # first iteration (1-based) of the open window
        self._last_iteration: Optional[int] = None
        self.ratios: Dict[str, float] = {}  # of the last closed window
        self.window: Optional[Tuple[int, int]] = None  # (first, last) iteration of the last closed window

    def add(self, losses: Dict[str, Tuple[Tensor, Tensor]], iteration: int) -> None:
        """Add one iteration's {layer: (detached loss, detached zero predictor's loss)} (no device sync); an
        iteration without losses (the finetune phase) is not part of any window."""
        if not losses:
            return
        for name, (loss, zero) in losses.items():
            if name in self._sums:
                total, reference = self._sums[name]
                self._sums[name] = (total + loss, reference + zero)
            else:
                self._sums[name] = (loss, zero)
        if self._first is None:
            self._first = iteration
        self._last_iteration = iteration

    def close_window(self) -> Dict[str, float]:
        """{layer: ratio} of the iterations added since the last close ({} if none), kept in ``ratios``."""
        if not self._sums:
            return {}
        names = list(self._sums)
        values = torch.stack([torch.stack([self._sums[n][0].float(), self._sums[n][1].float()])
                              for n in names]).tolist()  # one sync
        self.ratios = {name: loss / zero if zero > 0 else float('nan') for name, (loss, zero) in zip(names, values)}
        self.window = (self._first, self._last_iteration)
        self._sums, self._first, self._last_iteration = {}, None, None
        return self.ratios

    @staticmethod
    def mean(ratios: Dict[str, float]) -> float:
        """The mean ratio over layers (``ratios`` non-empty)."""
        return sum(ratios.values()) / len(ratios)

    @staticmethod
    def summary(ratios: Dict[str, float]) -> str:
        """One line: mean and min ratio, and how many layers are below `LEARNED_BELOW`."""
        if not ratios:
            return 'denoisers learned: no noise-prediction loss recorded yet'
        lowest = min(ratios, key=ratios.get)
        below = sum(value < LEARNED_BELOW for value in ratios.values())
        return (f'denoisers learned: loss / zero predictor (1.0 = nothing learned) mean '
                f'{LearnedFraction.mean(ratios):.4f}, min {ratios[lowest]:.4f} ({lowest}), {below} of {len(ratios)} '
                f'layers below {LEARNED_BELOW}')

    def table(self, model: nn.Module) -> str:
        """The closing table: per denoising layer its step, noise level sqrt(1 - abar_t) and the ratio of the
        last window (closing the open one first); '-' for a layer without a recorded loss."""
        self.close_window()
        if not self.ratios:
            return 'denoisers learned: no noise-prediction loss was recorded in this run'
        first, last = self.window
        lines = [f'denoisers learned, iterations {first}-{last} (loss / zero predictor on the same noise, '
                 '1.0 = nothing learned):', f'{"layer":<48} {"step":>5} {"noise":>8} {"ratio":>8}']
        for name, layer in denoising_layers(model):
            ratio = self.ratios.get(name)
            noise = (1.0 - layer.schedule.alpha_bar) ** 0.5
            lines.append(f'{name:<48} {layer.step:>5} {noise:>8.4f} {"-" if ratio is None else f"{ratio:.4f}":>8}')
        lines.append(self.summary(self.ratios))
        return '\n'.join(lines)
