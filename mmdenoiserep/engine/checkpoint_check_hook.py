"""Hooks that refuse a checkpoint of the other form: unfused into a plain model, fused into a DenoiseRep model.

mmengine loads checkpoints non-strictly and only warns about unexpected or missing keys, so either mismatch
would run silently with the wrong weights.
"""
from mmengine.hooks import Hook

from ..core import denoising_layers
from ..registry import HOOKS
from ..utils import InputError, check_not_unfused, checkpoint_state_dict

__all__ = ['UnfusedCheckpointCheckHook', 'FusedCheckpointCheckHook']


def _source(runner) -> str:
    return f'checkpoint {runner._load_from or "(resumed)"}'


@HOOKS.register_module()
class UnfusedCheckpointCheckHook(Hook):
    """Stop with `mmdenoiserep.utils.InputError` when a checkpoint with ``*.denoiser.*`` tensors is loaded
    (``load_from``, ``--resume``, tools/test.py) into a model without denoising layers.

    The baseline model would run the unfused weights W instead of the fused W'. Every config of this project
    declares it (``default_hooks.unfused_checkpoint_check``, configs/_base_/denoiserep_runtime.py).
    """

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # a model wrapper (DDP) holds the model among its modules, so its denoising layers are found too
        check_not_unfused(runner.model, checkpoint, source=_source(runner))


@HOOKS.register_module()
class FusedCheckpointCheckHook(Hook):
    """Stop with `mmdenoiserep.utils.InputError` when a checkpoint without ``*.denoiser.*`` tensors (fused, or a
    baseline's) was loaded into a model with denoising layers and the model is tested or validated.

    The denoisers would keep their initial weights (a missing-keys warning the only trace), and the fused
    weights W' would be fused a second time. Every config of this project declares it
    (``default_hooks.fused_checkpoint_check``). Training passes: a DenoiseRep run starts from the baseline's
    checkpoint, whose missing denoiser keys are expected. So the load only notes the mismatch, training
    (``before_train``, after the load and before any validation) forgets it, and ``runner.test()`` and
    ``runner.val()`` (``before_test``, ``before_val``) refuse it.
    """

    priority = 'VERY_HIGH'

    def __init__(self):
        self.mismatch = None

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        layers = denoising_layers(runner.model)
        self.mismatch = None
        if layers and not any('.denoiser.' in key for key in checkpoint_state_dict(checkpoint)):
            self.mismatch = (f'{_source(runner)} holds no denoiser weights (a fused or baseline checkpoint) and '
                             f'this model has {len(layers)} denoising layers: test a fused checkpoint with the '
                             'baseline config (tools/test.py BASELINE_CONFIG CHECKPOINT)')

    def before_train(self, runner) -> None:
        self.mismatch = None

    def _refuse(self) -> None:
        if self.mismatch:
            raise InputError(self.mismatch)

    def before_val(self, runner) -> None:
        self._refuse()

    def before_test(self, runner) -> None:
        self._refuse()
