from .checkpoint_check_hook import UnfusedCheckpointCheckHook
from .hook import DenoiseRepHook

__all__ = ['DenoiseRepHook', 'UnfusedCheckpointCheckHook']
