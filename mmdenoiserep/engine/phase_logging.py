"""``mmdenoiserep.PhaseLoggingHook``: mmengine's training log, aware of DenoiseRep's phases."""
import os.path as osp
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import Hook, LoggerHook
from mmengine.logging import HistoryBuffer, print_log

from ..registry import HOOKS
from .hook import DenoiseRepHook
from .training_curves import TrainingCurves, plot_training_curves

__all__ = ['PhaseLoggingHook', 'PhaseSchedule', 'phase_eta']


def phase_eta(seconds: Mapping[Optional[str], Tuple[float, int]], left: Mapping[Optional[str], int]) -> float:
    """Seconds that the iterations left take: ``sum_p left[p] * seconds[p][0] / seconds[p][1]``; a phase with no
    timed iteration yet counts the mean over all timed iterations (0 when none is timed).

    Args:
        seconds: ``{phase: (total seconds, iterations timed)}``.
        left: ``{phase: iterations left}``.
    """
    total = sum(time for time, _ in seconds.values())
    count = sum(timed for _, timed in seconds.values())
    fallback = total / count if count else 0.0
    return sum(iterations * (seconds[phase][0] / seconds[phase][1] if seconds.get(phase, (0.0, 0))[1] else fallback)
               for phase, iterations in left.items())


class PhaseSchedule:
    """How many iterations of each phase are left from any iteration of a run.

    Args:
        phases (Sequence): the phase of every iteration of the run, in order.
    """

    def __init__(self, phases: Sequence[Optional[str]]):
        self.names = list(dict.fromkeys(phases))
        codes = np.array([self.names.index(phase) for phase in phases], dtype=np.int64)
        # _left[j, i]: iterations of phase j from iteration i (0-based) to the end
        self._left = np.stack([np.cumsum(codes[::-1] == j)[::-1] for j in range(len(self.names))]) \
            if self.names else np.zeros((0, 0), dtype=np.int64)

    def left(self, first: int) -> Dict[Optional[str], int]:
        """``{phase: iterations}`` from iteration ``first`` (0-based) to the end, phases with none left omitted."""
        if first >= self._left.shape[1]:
            return {}
        return {name: int(count) for name, count in zip(self.names, self._left[:, first]) if count}


@HOOKS.register_module()
class PhaseLoggingHook(Hook):
    """Make the training log of a run with DenoiseRep phases show the running phase only.

    mmengine's log line shows each loss as its mean over the log processor's window (the last ``window_size``
    values of the message hub's ``train/<key>`` buffers) and an ETA that extrapolates the run's mean iteration
    time. After a phase change the window still averages the previous phase (in finetune, ``loss_denoise`` of
    the denoise phase; in denoise, task losses that the backbone-only forward no longer computes), so ``loss``
    is not the sum of the terms shown, and the cheap denoise iterations make the ETA far too short. This hook:

    - restarts the log window at the first iteration of each phase: every ``train/`` buffer of the message hub
      keeps only the value of this iteration, and a buffer that this iteration did not update (a term that
      the phase does not compute) is removed. A log line shows means over the same iterations of the running
      phase, and ``loss`` is the sum of the terms shown.
    - sets the ETA (the message hub's ``eta``, which the log line shows) to the sum over the iterations left
      of their phase's mean iteration time in this process (`phase_eta`): the phase of each iteration is
      `DenoiseRepHook.phase_at`, a phase not timed yet counts the mean of all timed iterations.
    - at the end of training, writes ``training_curves.png`` beside the visualizer's ``scalars.json``
      (``<work_dir>/<timestamp>/vis_data/``; rank 0, atomically): each loss term's mean over bins of
      ``plot_interval`` iterations, a line per phase on a background shaded by phase, and below it the mean
      learned fraction of the denoisers (`DenoiseRepHook`'s summary line). The curves are the message hub's
      ``denoiserep_curves`` info, which checkpoints save: a run resumed with ``--resume`` plots the whole run.

    The phase of an iteration is the message hub's ``denoiserep_phase`` info, which `DenoiseRepHook`
    publishes; without a DenoiseRepHook the run is one phase and only the plot differs from mmengine's log.

    Args:
        plot (bool): write the plot at the end of training. Defaults to True.
        plot_interval (int, optional): iterations averaged into each point of the plot (a phase change also
            starts a new point). Defaults to None: the ``LoggerHook``'s interval (50 without one).

    Note:
        Priority ``'NORMAL'``: in ``after_train_iter`` it runs after ``IterTimerHook`` (``'NORMAL'``, a default
        hook, registered before custom hooks) has timed the iteration, and before ``LoggerHook``
        (``'BELOW_NORMAL'``) writes the log line. Windows of the log processor's ``custom_cfg`` restart too
        (``window_size='global'`` is then the mean since the phase began).

    Examples:
        >>> custom_hooks = [dict(type='mmdenoiserep.DenoiseRepHook', phases=('denoise', 'finetune'), interval=3),
        ...                 dict(type='mmdenoiserep.PhaseLoggingHook')]
    """

    priority = 'NORMAL'

    def __init__(self, plot: bool = True, plot_interval: Optional[int] = None):
        if plot_interval is not None and (not isinstance(plot_interval, int) or isinstance(plot_interval, bool)
                                          or plot_interval < 1):
            raise ValueError(f'plot_interval must be None or a positive int, got {plot_interval!r}')
        self.plot = bool(plot)
        self.plot_interval = plot_interval
        self._phase: Optional[str] = None  # of the open log window
        self._lengths: Dict[str, int] = {}  # train/ buffer -> its length after the last iteration
        self._seconds: Dict[Optional[str], Tuple[float, int]] = {}  # phase -> (seconds, iterations) timed
        self._schedule: Optional[PhaseSchedule] = None
        self._curves: Optional[TrainingCurves] = None

    def before_train(self, runner) -> None:
        hub = runner.message_hub
        self._phase = hub.get_info('denoiserep_phase')  # of the last iteration before a resume, else None
        self._lengths = _train_buffer_lengths(hub)
        self._seconds, self._schedule = {}, None
        interval = self.plot_interval or next(
            (hook.interval for hook in runner.hooks if isinstance(hook, LoggerHook)), 50)
        self._curves = TrainingCurves(interval, hub.get_info('denoiserep_curves'))
        hub.update_info('denoiserep_curves', self._curves.state)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[dict] = None) -> None:
        hub = runner.message_hub
        phase = hub.get_info('denoiserep_phase')
        if phase != self._phase:
            self._restart_window(hub)
            self._phase = phase
        self._lengths = _train_buffer_lengths(hub)
        if 'train/time' in hub.log_scalars:  # timed by IterTimerHook
            total, count = self._seconds.get(phase, (0.0, 0))
            self._seconds[phase] = (total + hub.get_scalar('train/time').current(), count + 1)
            if self._schedule is None:
                self._schedule = self.phase_schedule(runner)
            hub.update_info('eta', phase_eta(self._seconds, self._schedule.left(runner.iter + 1)))
        self._curves.add(runner.iter + 1, phase, {key: hub.get_scalar(f'train/{key}').current()
                                                  for key in outputs or {} if 'loss' in key})
        self._add_learned(hub)

    def after_run(self, runner) -> None:
        if self._curves is None or not self.plot:  # no training in this run
            return
        self._add_learned(runner.message_hub)  # DenoiseRepHook's closing window (after_train)
        self._curves.close()
        if not is_main_process():
            return
        path = osp.join(runner.log_dir, 'vis_data', 'training_curves.png')
        try:
            plot_training_curves(self._curves, path)
        except ImportError:
            print_log('PhaseLoggingHook: no training-curves plot: matplotlib is not installed (pip install '
                      'matplotlib)', logger='current')
            return
        print_log(f'PhaseLoggingHook: training curves by phase in {path}', logger='current')

    def _add_learned(self, hub) -> None:
        learned = hub.get_info('denoiserep_learned')
        if learned is not None:
            self._curves.add_learned(*learned)

    def _restart_window(self, hub) -> None:
        """Keep this iteration's value of every ``train/`` buffer that it updated; remove the others."""
        for key in [key for key in hub.log_scalars if key.startswith('train/')]:
            buffer = hub.log_scalars[key]
            values, counts = buffer.data
            if len(values) != self._lengths.get(key):
                hub.log_scalars[key] = HistoryBuffer(values[-1:], counts[-1:], buffer.max_length)
            else:
                del hub.log_scalars[key]
                hub._resumed_keys.pop(key, None)  # else a resumed run warns of a key it cannot restore

    @property
    def curves(self) -> Optional[TrainingCurves]:
        """This run's training curves (the ``denoiserep_curves`` info's state), None before training."""
        return self._curves

    @staticmethod
    def phase_schedule(runner) -> PhaseSchedule:
        """The phase of each of the run's ``max_iters`` iterations, from its DenoiseRepHook's ``phase_at``
        (one phase, None, without one): what the ETA counts the iterations left of."""
        denoiserep = next((hook for hook in runner.hooks if isinstance(hook, DenoiseRepHook)), None)
        if denoiserep is None:
            return PhaseSchedule([None] * runner.max_iters)
        per_epoch = len(runner.train_dataloader)
        return PhaseSchedule([denoiserep.phase_at(iteration // per_epoch, iteration)
                              for iteration in range(runner.max_iters)])


def _train_buffer_lengths(hub) -> Dict[str, int]:
    return {key: len(buffer.data[0]) for key, buffer in hub.log_scalars.items() if key.startswith('train/')}
