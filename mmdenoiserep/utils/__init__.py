from .checkpoint import (CHECKPOINT_SAFE_GLOBALS, allow_mmengine_checkpoints, load_checkpoint_file,
                         load_state_dict_exact)

__all__ = ['CHECKPOINT_SAFE_GLOBALS', 'allow_mmengine_checkpoints', 'load_checkpoint_file', 'load_state_dict_exact']
