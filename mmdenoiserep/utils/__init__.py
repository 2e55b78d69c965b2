from .checkpoint import (allow_mmengine_checkpoints, checkpoint_safe_globals, check_finite, check_not_unfused,
                         check_checkpoint_file, checkpoint_state_dict, convert_checkpoint_file, first_non_finite,
                         load_checkpoint_file, load_state_dict_exact, read_denoiserep_checkpoint, rename_keys,
                         save_atomically, strip_ddp_prefix)
from .errors import InputError, NonFiniteError, first_line
from .files import write_atomically
from .timm_vit import TIMM_VIT_RENAMES, mmpretrain_vit_keys, rename_timm_vit

__all__ = ['allow_mmengine_checkpoints', 'checkpoint_safe_globals', 'check_finite', 'check_not_unfused',
           'checkpoint_state_dict', 'first_non_finite', 'load_checkpoint_file', 'load_state_dict_exact',
           'read_denoiserep_checkpoint', 'rename_keys', 'save_atomically', 'strip_ddp_prefix',
           'InputError', 'NonFiniteError', 'first_line', 'write_atomically', 'check_checkpoint_file',
           'convert_checkpoint_file', 'TIMM_VIT_RENAMES', 'mmpretrain_vit_keys', 'rename_timm_vit']
