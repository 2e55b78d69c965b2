from .atomic_checkpoint_hook import AtomicCheckpointHook, AtomicLocalBackend
from .checkpoint_check_hook import UnfusedCheckpointCheckHook
from .hook import DenoiseRepHook
from .reseed_hook import ReseedHook

__all__ = ['AtomicCheckpointHook', 'AtomicLocalBackend', 'DenoiseRepHook', 'ReseedHook', 'UnfusedCheckpointCheckHook']
