from .atomic_checkpoint_hook import AtomicCheckpointHook, AtomicLocalBackend
from .checkpoint_check_hook import FusedCheckpointCheckHook, UnfusedCheckpointCheckHook
from .hook import DenoiseRepHook
from .learned_fraction import LearnedFraction
from .optim_constructor import DenoiseRepOptimWrapperConstructor
from .reseed_hook import ReseedHook
from .schedulers import TimmCosineLR, timm_cosine_lr

__all__ = ['AtomicCheckpointHook', 'AtomicLocalBackend', 'DenoiseRepHook', 'DenoiseRepOptimWrapperConstructor',
           'FusedCheckpointCheckHook', 'LearnedFraction', 'ReseedHook', 'TimmCosineLR', 'UnfusedCheckpointCheckHook', 'timm_cosine_lr']
