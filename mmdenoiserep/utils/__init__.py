from .checkpoint import (CHECKPOINT_SAFE_GLOBALS, allow_mmengine_checkpoints, check_not_unfused,
                         checkpoint_state_dict, load_checkpoint_file, load_state_dict_exact,
                         read_denoiserep_checkpoint, save_atomically)
from .errors import InputError

__all__ = ['CHECKPOINT_SAFE_GLOBALS', 'allow_mmengine_checkpoints', 'check_not_unfused', 'checkpoint_state_dict',
           'load_checkpoint_file', 'load_state_dict_exact', 'read_denoiserep_checkpoint', 'save_atomically',
           'InputError']
