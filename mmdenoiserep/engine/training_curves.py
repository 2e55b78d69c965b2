"""The training curves of a run with phases: each loss term's mean over bins of iterations that never straddle a
phase change, the denoisers' learned fraction, and a plot of both on a background shaded by phase.

The state is a plain dict of lists, tuples, numbers and strings, so that `PhaseLoggingHook` keeps it in the
message hub's runtime info, which mmengine saves in every checkpoint and restores on ``--resume`` (and torch's
``weights_only`` loading accepts): a resumed run continues the curves of the run it resumes.
"""
import bisect
import math
from typing import Dict, Optional

from ..utils import write_atomically

__all__ = ['TrainingCurves', 'plot_training_curves']

#: Background colour of each phase in the plot (any other phase: grey).
PHASE_COLORS = {'denoise': 'tab:blue', 'finetune': 'tab:orange', 'joint': 'tab:green'}


class TrainingCurves:
    """Each loss term's mean per bin of iterations, and the learned fraction's mean per window, in ``state``.

    A bin ends at every multiple of ``interval`` iterations and at every phase change.

    Args:
        interval (int): iterations per bin.
        state (dict, optional): the state of the earlier part of a resumed run, continued in place.
            Defaults to None: a new run.
    """

    def __init__(self, interval: int, state: Optional[dict] = None):
        self.interval = interval
        self.state = dict(rows=[], open=None, learned=[]) if state is None else state

    @property
    def rows(self) -> list:
        """The closed bins: ``(first, last, phase, {term: mean})``, iterations 1-based and inclusive."""
        return self.state['rows']

    @property
    def learned(self) -> list:
        """``(last iteration of the window, mean learned fraction over layers)`` of each window."""
        return self.state['learned']

    def add(self, iteration: int, phase: Optional[str], losses: Dict[str, float]) -> None:
        """Add the loss terms of ``iteration`` (1-based), which ran in ``phase``."""
        current = self.state['open']
        if current is not None and current['phase'] != phase:
            self.close()
            current = None
        if current is None:
            current = self.state['open'] = dict(first=iteration, phase=phase, sums={})
        current['last'] = iteration
        for key, value in losses.items():
            total, count = current['sums'].get(key, (0.0, 0))
            current['sums'][key] = (total + value, count + 1)
        if iteration % self.interval == 0:
            self.close()

    def add_learned(self, iteration: int, mean: float) -> None:
        """Add the mean learned fraction of the window that ended at ``iteration`` (a window seen before is
        ignored)."""
        if not self.learned or self.learned[-1][0] < iteration:
            self.learned.append((iteration, mean))

    def close(self) -> None:
        """Close the open bin (if any) into a row."""
        current, self.state['open'] = self.state['open'], None
        if current is not None:
            self.rows.append((current['first'], current['last'], current['phase'],
                              {key: total / count for key, (total, count) in current['sums'].items()}))


def _phase_spans(rows: list) -> list:
    """``[first, last, phase]`` of each run of consecutive rows in one phase."""
    spans = []
    for first, last, phase, _ in rows:
        if spans and spans[-1][2] == phase:
            spans[-1][1] = last
        else:
            spans.append([first, last, phase])
    return spans


def _broken_at_phase_changes(points: list, spans: list) -> tuple:
    """``(x, y)`` of ``[(iteration, value)]`` with a NaN point between points in different phase spans, so
    that a line never joins two phases."""
    starts = [first for first, _, _ in spans]
    xs, ys, previous = [], [], None
    for x, y in points:
        span = bisect.bisect_right(starts, x)
        if xs and span != previous:
            xs.append(math.nan)
            ys.append(math.nan)
        xs.append(x)
        ys.append(y)
        previous = span
    return xs, ys


def plot_training_curves(curves: TrainingCurves, path: str) -> None:
    """Write the PNG of ``curves`` (closed rows only) to ``path``, atomically: each loss term against the
    iteration (a bin's mean at its middle) on a log scale, a line per phase (a term missing from a bin, or
    not positive, is not drawn: ``loss_denoise`` is 0 in finetune), the learned fraction below, the
    background of both shaded by phase.

    Raises:
        ImportError: matplotlib is not installed.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import LogFormatter

    figure = Figure(figsize=(10, 6.5), layout='constrained')
    losses_axes, learned_axes = figure.subplots(2, 1, sharex=True, gridspec_kw=dict(height_ratios=(3, 1)))
    spans = _phase_spans(curves.rows)
    for axes in (losses_axes, learned_axes):
        for first, last, phase in spans:
            axes.axvspan(first - 0.5, last + 0.5, color=PHASE_COLORS.get(phase, 'grey'), alpha=0.15, linewidth=0)
    terms = sorted({key for *_, means in curves.rows for key in means}, key=lambda key: (key != 'loss', key))
    for term in terms:
        points = [((first + last) / 2, means.get(term, math.nan)) for first, last, _, means in curves.rows]
        xs, ys = _broken_at_phase_changes([(x, y if y > 0 else math.nan) for x, y in points], spans)
        losses_axes.plot(xs, ys, label=term, marker='.', markersize=4, linewidth=2.0 if term == 'loss' else 1.0)
    if any(value > 0 for *_, means in curves.rows for value in means.values()):
        losses_axes.set_yscale('log')
        losses_axes.yaxis.set_major_formatter(LogFormatter())  # plain numbers, minor ones on short ranges
        losses_axes.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    phases = list(dict.fromkeys(phase for _, _, phase in spans))
    handles = losses_axes.get_legend_handles_labels()[0] + [
        Patch(color=PHASE_COLORS.get(phase, 'grey'), alpha=0.3, label=f'phase {phase}') for phase in phases]
    if handles:
        losses_axes.legend(handles=handles, loc='upper right', fontsize='small', ncols=2)
    losses_axes.set_ylabel('loss (mean per bin)')
    losses_axes.set_title(f'Training curves by phase (means over bins of up to {curves.interval} iterations)')
    learned_axes.plot(*_broken_at_phase_changes(curves.learned, spans), marker='o', markersize=3, color='black')
    learned_axes.axhline(1.0, color='grey', linestyle='--', linewidth=1)
    learned_axes.ticklabel_format(axis='y', useOffset=False)
    learned_axes.set_ylabel('denoisers learned\n(loss / zero pred.)')
    learned_axes.set_xlabel('iteration')
    write_atomically(path, lambda file: figure.savefig(file, format='png', dpi=100))
