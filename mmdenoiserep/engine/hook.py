"""``mmdenoiserep.DenoiseRepHook``: the DenoiseRep loss and phase schedule for any mmengine runner."""
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..core import PHASES, denoise_loss, denoising_layers, set_phase
from ..registry import HOOKS
from ..utils import allow_mmengine_checkpoints

__all__ = ['DenoiseRepHook']


@HOOKS.register_module()
class DenoiseRepHook(Hook):
    """Train a model with DenoiseRep layers (built by ``mmdenoiserep.DenoiseRepBackbone``).

    - Adds ``loss_denoise = loss_weight * sum_i loss_i`` to the loss dict that the model's forward
      returns in ``mode='loss'``, through a forward hook on the model, so it is computed inside the
      forward that DDP wraps.
    - Runs the phase schedule: ``phases[(counter // interval) % len(phases)]`` where counter is the
      epoch (``by_epoch=True``) or the iteration. The phase is a function of the counter, so it
      continues where it stopped after ``--resume``. ``phases=('denoise',)`` is the label-free mode.
    - In the ``denoise`` phase nothing of the original network changes: its Parameters are frozen (by
      identity, see `mmdenoiserep.set_phase`) and batch-norm layers are kept in eval mode, so their
      running statistics stay as they are.
    - Validation and test run in eval mode, where every denoising layer computes the fused path.
    - Logs phase changes, and the per-layer losses every ``log_interval`` iterations (to the logger
      and the visualizer backends). In the finetune phase the frozen predictors record no loss and
      ``loss_denoise`` is 0.

    Args:
        loss_weight (float): lambda. Defaults to 0.1 (authors: 0.01 classification, 0.1 ReID).
        phases (Sequence[str]): the cycle of phases, each in ('denoise', 'finetune', 'joint').
            Defaults to ('denoise', 'finetune').
        interval (int): length of each phase, in epochs or iterations. Defaults to 1.
        by_epoch (bool): whether ``interval`` counts epochs. Defaults to True.
        log_interval (int): iterations between per-layer loss logs. Defaults to 50.

    Note:
        With DDP and more than one phase, set ``find_unused_parameters = True`` in the config: the
        frozen part changes between phases, and DDP must not wait for gradients that never come.

    Examples:
        >>> custom_hooks = [dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1,
        ...                      phases=('denoise', 'finetune'), interval=3)]
    """

    priority = 'NORMAL'

    def __init__(self, loss_weight: float = 0.1, phases: Sequence[str] = ('denoise', 'finetune'),
                 interval: int = 1, by_epoch: bool = True, log_interval: int = 50):
        phases = tuple(phases) if not isinstance(phases, str) else (phases,)
        if not phases or any(p not in PHASES for p in phases):
            raise ValueError(f'phases must be a non-empty sequence of {PHASES}, got {phases!r}')
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be a positive int, got {interval!r}')
        self.loss_weight = float(loss_weight)
        self.phases = phases
        self.interval = interval
        self.by_epoch = by_epoch
        self.log_interval = log_interval
        self.phase: Optional[str] = None
        self._handle = None
        allow_mmengine_checkpoints()  # so that --resume loads with torch's weights_only safety on

    @staticmethod
    def _unwrap(runner) -> nn.Module:
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def phase_at(self, epoch: int, iteration: int) -> str:
        """The phase of the given (0-based) epoch and iteration."""
        counter = epoch if self.by_epoch else iteration
        return self.phases[(counter // self.interval) % len(self.phases)]

    def before_run(self, runner) -> None:
        model = self._unwrap(runner)
        if not denoising_layers(model):
            raise ValueError('DenoiseRepHook: the model has no denoising layers; wrap its backbone in '
                             "dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=...)")
        self._handle = model.register_forward_hook(self._add_denoise_loss, with_kwargs=True)

    def before_train(self, runner) -> None:
        if (is_model_wrapper(runner.model) and len(set(self.phases)) > 1
                and not getattr(runner.model, 'find_unused_parameters', True)):
            raise ValueError('DenoiseRepHook: set find_unused_parameters = True in the config when '
                             'phases alternate under DDP')

    def _add_denoise_loss(self, model, args, kwargs, output):
        mode = kwargs.get('mode', args[2] if len(args) > 2 else 'tensor')
        if mode == 'loss' and model.training and isinstance(output, dict):
            output['loss_denoise'] = self.loss_weight * denoise_loss(model)
        return output

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        model = self._unwrap(runner)
        phase = self.phase_at(runner.epoch, runner.iter)
        if phase != self.phase:
            set_phase(model, phase)
            print_log(f'DenoiseRepHook: phase {phase!r} from epoch {runner.epoch + 1}, '
                      f'iteration {runner.iter + 1}', logger='current')
            runner.message_hub.update_info('denoiserep_phase', phase)
            self.phase = phase
            model.train()  # norm layers follow the model's own train() again (e.g. norm_eval)
        if phase == 'denoise':  # runner.model.train() ran before this hook; keep statistics frozen
            for module in model.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.every_n_train_iters(runner, self.log_interval):
            return
        losses = {name: loss.item() for name, loss in denoise_loss(self._unwrap(runner), per_layer=True).items()}
        if not losses:  # finetune: the frozen predictors record no loss
            return
        runner.visualizer.add_scalars({f'denoise/{name}': value for name, value in losses.items()},
                                      step=runner.iter + 1)
        print_log(f'DenoiseRepHook: phase {self.phase}, per-layer noise-prediction loss: ' +
                  ', '.join(f'{name}={value:.4f}' for name, value in losses.items()), logger='current')

    def after_run(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
