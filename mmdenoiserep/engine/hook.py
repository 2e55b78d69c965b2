"""``mmdenoiserep.DenoiseRepHook``: the DenoiseRep loss and phase schedule for any mmengine runner."""
import contextlib
import logging
from typing import Dict, Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from torch import Tensor, nn

from ..core import PHASES, denoise_loss, denoising_layers, discard_recorded_calls, fused_weights_cached
from ..core.phases import backbone_only_blocker, enter_phase, set_backbone_only
from ..registry import HOOKS
from ..utils import InputError, allow_mmengine_checkpoints
from .learned_fraction import LearnedFraction

__all__ = ['DenoiseRepHook']


def is_loss_forward(args: tuple, kwargs: dict) -> bool:
    """Whether a call of an mmengine model computes its losses: ``mode='loss'`` by keyword, as mmengine's
    ``train_step`` passes it, or as the third positional argument of ``BaseModel.forward(inputs,
    data_samples=None, mode='tensor')``."""
    return kwargs.get('mode') == 'loss' or args[2:] == ('loss',)


@HOOKS.register_module()
class DenoiseRepHook(Hook):
    """Train a model with DenoiseRep layers (built by ``mmdenoiserep.DenoiseRepBackbone``).

    - Adds ``loss_denoise = loss_weight * sum_i loss_i`` to the loss dict that the model's forward
      returns in ``mode='loss'``, through forward hooks on the model, so it is computed inside the
      forward that DDP wraps. ``loss_i`` sums over exactly the calls layer i made in that forward.
    - Runs the phase schedule: ``phases[((counter + offset) // interval) % len(phases)]`` where counter
      is the (0-based) epoch or iteration. The phase is a function of the counter, so it continues where
      it stopped after ``--resume``. ``phases=('denoise',)`` is the label-free mode.
    - In the ``denoise`` phase nothing of the original network changes: its Parameters are frozen (by
      identity, see `mmdenoiserep.set_phase`), pending gradients of a phase change are dropped (gradient
      accumulation), and every layer with running statistics (BatchNorm, torch/mmcv SyncBN, ...) is
      kept in eval mode.
    - Parts of the backbone that it freezes itself on every ``train()`` (``frozen_stages``) keep their
      stock weights frozen, but their denoisers train like all others; the log lists those layers.
    - Before every training iteration it puts the model in the phase with `mmdenoiserep.core.phases.enter_phase`.
    - In the ``denoise`` phase only the backbone runs (``backbone_only``, `mmdenoiserep.core.phases.set_backbone_only`):
      the rest of the network is frozen and its losses would train nothing, so the model's ``loss``
      computes the backbone forward (which records the denoising layers' inputs) and returns no task
      loss; the denoisers' gradients are those of the full forward. Falls back to the full forward, with a
      warning, when some denoising layer is outside ``model.backbone``.
    - Validation and test run in eval mode, where every denoising layer computes the fused path, W'
      computed once per loop and reused (`mmdenoiserep.fused_weights_cached`). A model without denoising
      layers (a deploy config) is tested normally; training it is refused.
    - ``layer_losses`` holds the per-layer noise-prediction losses (detached) of the running training
      iteration's forward, until ``after_train_iter``; `mmdenoiserep.NonFiniteCheckHook` checks them.
    - Logs phase changes and publishes the phase as the message hub's ``denoiserep_phase`` info. Every
      ``log_interval`` iterations of a phase that trains the denoisers, the per-layer noise-prediction
      losses go to the visualizer backends (``denoise/<layer>``); in the finetune phase the frozen
      denoisers record no loss and ``loss_denoise`` is 0.
    - Shows whether the denoisers learn: every ``log_interval`` iterations of a phase that trains them,
      each layer's noise-prediction loss divided by the loss of the zero predictor (eps_hat = 0, the
      initial state) on the same noise, summed over the iterations since the last log (1.0: learned
      nothing; method.md section 7), to the visualizer (``denoise_ratio/<layer>``), as one summary line
      in the log, and its mean over layers as the message hub's ``denoiserep_learned`` info
      (``(last iteration of the window, mean)``); the run's closing log prints the per-layer table of the
      last window, one line per layer.

    Args:
        loss_weight (float): lambda. Defaults to 0.1 (authors: 0.01 classification, 0.1 ReID).
        phases (Sequence[str]): the cycle of phases, each in ('denoise', 'finetune', 'joint').
            Defaults to ('denoise', 'finetune').
        interval (int): length of each phase, in epochs or iterations. Defaults to 1.
        offset (int): added to the counter before the phase is read: ``offset=1`` is the authors' loops
            (RG12138/DenoiseRep), which count epochs from 1 and switch at multiples of ``interval``, so that
            their first phase is ``interval - 1`` epochs long. Defaults to 0.
        by_epoch (bool, optional): whether ``interval`` counts epochs. Defaults to None: epochs under an
            ``EpochBasedTrainLoop``, iterations under an ``IterBasedTrainLoop``. ``True`` under an
            iteration-based loop (one endless epoch) is refused.
        log_interval (int): iterations between the per-layer losses to the visualizer and the summary
            line. Defaults to 50.
        loss_positions (float): fraction of each layer input's positions that the noise-prediction loss
            is taken over, in (0, 1]. Defaults to 1.0: the paper's loss, over every position. A fraction
            < 1 estimates it on positions drawn afresh in every iteration (unbiased, cheaper: 0.1 brings
            a denoise-phase iteration of ResNet-50 from 1.55x to 0.46x a baseline iteration on this
            project's CPU, docs/results.md "What it costs"); a config that uses it says so in its own file.
        backbone_only (bool): run only the backbone in the denoise phase. Defaults to True.

    Note:
        Under DDP, set ``find_unused_parameters = True`` in the config unless every phase is 'joint':
        the denoise and finetune phases freeze Parameters that DDP would otherwise wait for.

    Note:
        mmengine's log smooths each loss over a window of iterations and extrapolates the ETA from the
        mean iteration time, both blind to the phases; add `mmdenoiserep.PhaseLoggingHook` to
        ``custom_hooks`` for log windows that restart at each phase change, a phase-aware ETA and a plot
        of the training curves (it reads the phase that this hook publishes), and
        `mmdenoiserep.NonFiniteCheckHook` to stop on a NaN or Inf before the optimizer step (every config
        of this project has it in ``default_hooks``).

    Examples:
        >>> custom_hooks = [dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1,
        ...                      phases=('denoise', 'finetune'), interval=3),
        ...                 dict(type='mmdenoiserep.PhaseLoggingHook')]
    """

    priority = 'NORMAL'

    def __init__(self, loss_weight: float = 0.1, phases: Sequence[str] = ('denoise', 'finetune'),
                 interval: int = 1, by_epoch: Optional[bool] = None, log_interval: int = 50,
                 loss_positions: float = 1.0, backbone_only: bool = True, offset: int = 0):
        phases = tuple(phases) if not isinstance(phases, str) else (phases,)
        if not phases or any(p not in PHASES for p in phases):
            raise ValueError(f'phases must be a non-empty sequence of {PHASES}, got {phases!r}')
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be a positive int, got {interval!r}')
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ValueError(f'offset must be a non-negative int, got {offset!r}')
        if by_epoch not in (None, True, False):
            raise ValueError(f'by_epoch must be None, True or False, got {by_epoch!r}')
        if not isinstance(loss_positions, (int, float)) or not 0 < loss_positions <= 1:
            raise ValueError(f'loss_positions must be in (0, 1], got {loss_positions!r}')
        self.loss_weight = float(loss_weight)
        self.loss_positions = float(loss_positions)
        self.backbone_only = bool(backbone_only)
        self._eval_cache: Optional[contextlib.ExitStack] = None
        self.phases = phases
        self.interval = interval
        self.offset = offset
        self.by_epoch = by_epoch
        self.log_interval = log_interval
        self.phase: Optional[str] = None
        self._handles = []
        self._full_forward = False  # backbone_only, but the model cannot (warned at the phase change)
        self.layer_losses: Dict[str, Tensor] = {}  # of the running iteration's forward (see the docstring)
        self._learning = LearnedFraction()  # loss / zero predictor's, per layer (learned_fraction.py)
        self._iteration = 0  # 1-based, of the running training iteration
        self._count_epochs = by_epoch  # resolved against the train loop in before_train
        allow_mmengine_checkpoints()  # so that --resume loads with torch's weights_only safety on

    @staticmethod
    def _unwrap(runner) -> nn.Module:
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def phase_at(self, epoch: int, iteration: int) -> str:
        """The phase of the given (0-based) epoch and iteration (by_epoch=None: epochs until a run
        resolves it against its train loop)."""
        counter = epoch if self._count_epochs in (None, True) else iteration
        return self.phases[((counter + self.offset) // self.interval) % len(self.phases)]

    def before_run(self, runner) -> None:
        model = self._unwrap(runner)
        if not denoising_layers(model):  # a deploy model: nothing to add (training it is refused)
            return
        # prepend: loss_denoise is in the output before any other forward hook (NonFiniteCheckHook's) sees it
        self._handles = [model.register_forward_pre_hook(self._start_forward),
                         model.register_forward_hook(self._add_denoise_loss, with_kwargs=True, prepend=True)]

    def before_train(self, runner) -> None:
        model = self._unwrap(runner)
        if not denoising_layers(model):
            raise InputError('DenoiseRepHook: the model has no denoising layers; wrap its backbone in '
                             "dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=...)")
        self._count_epochs = self._counts_epochs(runner.train_loop)
        if (is_model_wrapper(runner.model) and set(self.phases) != {'joint'}
                and not getattr(runner.model, 'find_unused_parameters', True)):
            raise InputError(f'DenoiseRepHook: phases {self.phases} freeze Parameters that DDP waits for; '
                             'set find_unused_parameters = True in the config')
        self._warn_unreached_phases(runner.train_loop)
        layers = denoising_layers(model)
        frozen = [name for name, layer in layers if not layer.weight.requires_grad]
        if frozen:
            print_log(f'DenoiseRepHook: {len(frozen)} of {len(layers)} denoising layers have frozen stock '
                      'weights (e.g. frozen_stages): the weights stay frozen, their denoisers train in the '
                      f'denoise phase like all others: {", ".join(frozen)}', logger='current')

    def _counts_epochs(self, loop) -> bool:
        """``by_epoch`` resolved against the train loop that runs (see the class docstring)."""
        loop_by_epoch = (True if isinstance(loop, EpochBasedTrainLoop) else
                         False if isinstance(loop, IterBasedTrainLoop) else None)
        if self.by_epoch is None:
            if loop_by_epoch is None:
                raise InputError(f'DenoiseRepHook: cannot tell whether {type(loop).__name__} counts epochs; '
                                 'set by_epoch=True or False in the hook config')
            return loop_by_epoch
        if self.by_epoch and loop_by_epoch is False:
            raise InputError('DenoiseRepHook: by_epoch=True under an IterBasedTrainLoop (a single epoch) '
                             'never changes phase; set by_epoch=False (interval in iterations) or leave '
                             'it unset')
        return self.by_epoch

    def _warn_unreached_phases(self, loop) -> None:
        length = loop.max_epochs if self._count_epochs else loop.max_iters
        first, last = self.offset // self.interval, (length - 1 + self.offset) // self.interval  # phase blocks
        reached = {self.phases[block % len(self.phases)]
                   for block in range(first, min(last, first + len(self.phases) - 1) + 1)}
        if reached != set(self.phases):
            unit = 'epochs' if self._count_epochs else 'iterations'
            print_log(f'DenoiseRepHook: with interval={self.interval} {unit} and {length} {unit} in the run, '
                      f'phases {sorted(set(self.phases) - reached)} never run', logger='current',
                      level=logging.WARNING)

    def _start_forward(self, model, args) -> None:
        discard_recorded_calls(model)  # the loss of a forward covers the calls of that forward only

    def _add_denoise_loss(self, model, args, kwargs, output):
        if is_loss_forward(args, kwargs) and model.training and isinstance(output, dict):
            losses = denoise_loss(model, per_layer=True, positions=self.loss_positions)
            self.layer_losses = {name: loss.detach() for name, loss in losses.items()}
            self._learning.add({name: (self.layer_losses[name], layer.zero_predictor_loss)
                                for name, layer in denoising_layers(model) if name in losses}, self._iteration)
            total = (torch.stack(list(losses.values())).sum() if losses else
                     next(model.parameters()).new_zeros(()))  # finetune: no call recorded
            output['loss_denoise'] = self.loss_weight * total
        return output

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        model = self._unwrap(runner)
        phase = self.phase_at(runner.epoch, runner.iter)
        self._iteration = runner.iter + 1
        if phase != self.phase:
            print_log(f'DenoiseRepHook: phase {phase!r} from epoch {runner.epoch + 1}, '
                      f'iteration {runner.iter + 1}', logger='current')
            runner.message_hub.update_info('denoiserep_phase', phase)
            self.phase = phase
            blocker = backbone_only_blocker(model) if phase == 'denoise' and self.backbone_only else None
            if blocker is not None:
                print_log(f'DenoiseRepHook: the denoise phase runs the full forward: {blocker}', logger='current',
                          level=logging.WARNING)
            self._full_forward = blocker is not None
        # The train loop's model.train() ran before this hook, and a backbone's train() may re-freeze
        # parts of itself (frozen_stages): enter_phase puts every denoiser back to what the phase says.
        enter_phase(model, phase, backbone_only=self.backbone_only and not self._full_forward)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        discard_recorded_calls(self._unwrap(runner))  # calls of forwards that returned no loss
        losses, self.layer_losses = self.layer_losses, {}
        if not losses or not self.every_n_train_iters(runner, self.log_interval):
            return  # finetune: the frozen denoisers record no loss
        values = {name: loss.item() for name, loss in losses.items()}
        ratios = self._learning.close_window()
        runner.visualizer.add_scalars({**{f'denoise/{name}': value for name, value in values.items()},
                                       **{f'denoise_ratio/{name}': value for name, value in ratios.items()}},
                                      step=runner.iter + 1)
        print_log(f'DenoiseRepHook: {LearnedFraction.summary(ratios)}', logger='current')
        self._publish_learned(runner)

    def after_train(self, runner) -> None:
        """The closing log: the per-layer learned-fraction table of the last window."""
        model = self._unwrap(runner)
        if denoising_layers(model):
            print_log(f'DenoiseRepHook: {self._learning.table(model)}', logger='current')
            self._publish_learned(runner)

    def _publish_learned(self, runner) -> None:
        """The last closed window's mean ratio as the message hub's ``denoiserep_learned`` info."""
        if self._learning.ratios:
            runner.message_hub.update_info('denoiserep_learned',
                                           (self._learning.window[1], LearnedFraction.mean(self._learning.ratios)))

    def _open_eval_cache(self, runner) -> None:
        self._close_eval_cache()
        self._eval_cache = contextlib.ExitStack()
        self._eval_cache.enter_context(fused_weights_cached(self._unwrap(runner)))

    def _close_eval_cache(self, *args, **kwargs) -> None:
        if self._eval_cache is not None:
            self._eval_cache.close()
            self._eval_cache = None

    before_val_epoch = before_test_epoch = _open_eval_cache
    after_val_epoch = after_test_epoch = _close_eval_cache

    def after_run(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.layer_losses = {}
        self._close_eval_cache()
        model = self._unwrap(runner)
        if denoising_layers(model):
            set_backbone_only(model, False)
            discard_recorded_calls(model)

