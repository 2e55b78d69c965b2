"""``mmdenoiserep.NonFiniteCheckHook``: stop training on a NaN or Inf before the optimizer step."""
import functools
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import Tensor, nn

from ..core import denoising_layers
from ..registry import HOOKS
from ..utils import NonFiniteError, first_non_finite
from .hook import DenoiseRepHook, is_loss_forward

__all__ = ['NonFiniteCheckHook']


@HOOKS.register_module()
class NonFiniteCheckHook(Hook):
    """Stop training with `mmdenoiserep.utils.NonFiniteError` when a value is NaN or Inf, before the backward
    pass and the optimizer step, so that the weights stay finite and nothing broken is saved.

    - In every training forward in ``mode='loss'`` (``every_iteration``), through forward hooks on the model
      (inside the forward that DDP wraps): the input of each denoising layer (``torch.isfinite``; layers
      called as modules, the inputs of layers whose weight is read elsewhere reach the check through their
      loss), each layer's noise-prediction loss (`mmdenoiserep.DenoiseRepHook`'s ``layer_losses``), and
      each loss term the model returns (tensors, and lists or tuples of tensors). One line names the first
      non-finite value (layer inputs in execution order, then layer losses, then loss terms), the
      iteration, the epoch and the DenoiseRep phase. One device sync per iteration.
    - Before every checkpoint save: refuses a state dict with a non-finite floating tensor, before
      anything is written.

    A model without denoising layers gets the loss-term and checkpoint checks.

    Args:
        every_iteration (bool): check the layer inputs and the losses of every training forward. Defaults
            to True. False keeps only the checkpoint check (no per-iteration device sync).

    Note:
        Its forward hook runs after DenoiseRepHook's, which is registered first among the model's forward
        hooks, so that ``loss_denoise`` and the per-layer losses of the same forward are checked.

    Examples:
        >>> default_hooks = dict(non_finite_check=dict(type='mmdenoiserep.NonFiniteCheckHook'))
        >>> # or, in a config without it:
        >>> custom_hooks = [dict(type='mmdenoiserep.NonFiniteCheckHook', every_iteration=True)]
    """

    priority = 'NORMAL'

    def __init__(self, every_iteration: bool = True):
        if not isinstance(every_iteration, bool):
            raise TypeError(f'every_iteration must be a bool, got {every_iteration!r}')
        self.every_iteration = every_iteration
        self._input_finite: Dict[str, Tensor] = {}  # layer name -> isfinite(input).all() of this forward
        self._denoiserep: Optional[DenoiseRepHook] = None
        self._position = (0, 0)  # (iteration, epoch), 1-based, of the running training iteration
        self._handles = []

    def before_run(self, runner) -> None:
        if not self.every_iteration:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._denoiserep = next((hook for hook in runner.hooks if isinstance(hook, DenoiseRepHook)), None)
        self._handles = [model.register_forward_pre_hook(self._start_forward),
                         model.register_forward_hook(self._check_forward, with_kwargs=True)]
        self._handles += [layer.register_forward_pre_hook(functools.partial(self._check_input, name))
                          for name, layer in denoising_layers(model)]

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._position = (runner.iter + 1, runner.epoch + 1)

    def _start_forward(self, model, args) -> None:
        self._input_finite = {}

    def _check_input(self, name: str, layer: nn.Module, args) -> None:
        """Forward pre-hook of a denoising layer: whether its input is finite (on the device, no sync); the
        first call of a layer in a forward counts."""
        if layer.training and torch.is_tensor(args[0]) and name not in self._input_finite:
            self._input_finite[name] = torch.isfinite(args[0].detach()).all()

    def _check_forward(self, model, args, kwargs, output) -> None:
        if is_loss_forward(args, kwargs) and model.training and isinstance(output, dict):
            self._raise_if_not_finite(self._denoiserep.layer_losses if self._denoiserep else {}, output)

    def _raise_if_not_finite(self, layer_losses: Dict[str, Tensor], task_losses: dict) -> None:
        """One sync: raise NonFiniteError naming the first layer (execution order) whose input is not
        finite, else the first layer whose noise-prediction loss is not, else the loss term."""
        task = {key: torch.stack([v.detach().float().sum() for v in value]) if isinstance(value, (list, tuple))
                else value for key, value in task_losses.items()
                if torch.is_tensor(value) or (isinstance(value, (list, tuple)) and value
                                              and all(torch.is_tensor(v) for v in value))}
        flags = ([flag.reshape(()) for flag in self._input_finite.values()] +
                 [torch.isfinite(v.detach()).all() for v in list(layer_losses.values()) + list(task.values())])
        if not flags or bool(torch.stack(flags).all()):
            return
        flags = torch.stack(flags).tolist()
        names = ([f'input of denoising layer {name}' for name in self._input_finite] +
                 [f'noise-prediction loss of denoising layer {name}' for name in layer_losses] +
                 [f'loss term {key!r}' for key in task])
        iteration, epoch = self._position
        phase = f', phase {self._denoiserep.phase}' if self._denoiserep is not None else ''
        raise NonFiniteError(f'NonFiniteCheckHook: non-finite {names[flags.index(False)]} at iteration '
                             f'{iteration} (epoch {epoch}{phase}); training stopped before the optimizer step '
                             '(lower the learning rate, or check the data)')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to save weights with a NaN or Inf (NonFiniteError, before anything is written)."""
        found = first_non_finite(checkpoint.get('state_dict', {}))
        if found is not None:
            meta = checkpoint.get('meta', {})
            raise NonFiniteError(f'NonFiniteCheckHook: {found[0]} holds non-finite values in the checkpoint of '
                                 f'epoch {meta.get("epoch")}, iteration {meta.get("iter")}: not saved')

    def after_run(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._input_finite = {}
        self._denoiserep = None
