"""``mmdenoiserep.UnfusedCheckpointCheckHook``: refuse an unfused DenoiseRep checkpoint in a plain model."""
from mmengine.hooks import Hook

from ..registry import HOOKS
from ..utils import check_not_unfused

__all__ = ['UnfusedCheckpointCheckHook']


@HOOKS.register_module()
class UnfusedCheckpointCheckHook(Hook):
    """Stop with `mmdenoiserep.utils.InputError` when a checkpoint with ``*.denoiser.*`` tensors is loaded
    (``load_from``, ``--resume``, tools/test.py) into a model without denoising layers.

    mmengine loads non-strictly and only warns about unexpected keys, so the baseline model would run the
    unfused weights W instead of the fused W'. tools/train.py and tools/test.py register this hook; in
    other runners add ``dict(type='mmdenoiserep.UnfusedCheckpointCheckHook')`` to ``custom_hooks``.
    """

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # a model wrapper (DDP) holds the model among its modules, so its denoising layers are found too
        source = f'checkpoint {runner._load_from or "(resumed)"}'
        check_not_unfused(runner.model, checkpoint, source=source)
