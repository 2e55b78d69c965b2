from .atomic_checkpoint_hook import AtomicCheckpointHook, AtomicLocalBackend
from .checkpoint_check_hook import FusedCheckpointCheckHook, UnfusedCheckpointCheckHook
from .clip_reid_loop import CLIPReIDTrainLoop
from .clip_reid_optim import CLIPReIDOptimWrapperConstructor
from .clip_reid_schedulers import CLIPReIDCosineLR, CLIPReIDWarmupMultiStepLR
from .hook import DenoiseRepHook
from .learned_fraction import LearnedFraction
from .non_finite_check_hook import NonFiniteCheckHook
from .optim_constructor import DenoiseRepOptimWrapperConstructor
from .phase_data_hook import PhaseTrainDataHook
from .phase_logging import PhaseLoggingHook, PhaseSchedule, phase_eta
from .reseed_hook import ReseedHook
from .schedulers import TimmCosineLR, timm_cosine_lr
from .training_curves import TrainingCurves, plot_training_curves

__all__ = ['AtomicCheckpointHook', 'AtomicLocalBackend', 'CLIPReIDCosineLR', 'CLIPReIDOptimWrapperConstructor',
           'CLIPReIDTrainLoop', 'CLIPReIDWarmupMultiStepLR', 'DenoiseRepHook', 'DenoiseRepOptimWrapperConstructor',
           'FusedCheckpointCheckHook', 'LearnedFraction', 'NonFiniteCheckHook', 'PhaseLoggingHook', 'PhaseSchedule',
           'PhaseTrainDataHook', 'ReseedHook', 'TimmCosineLR', 'TrainingCurves', 'UnfusedCheckpointCheckHook',
           'phase_eta', 'plot_training_curves', 'timm_cosine_lr']
