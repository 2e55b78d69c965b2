"""``mmdenoiserep.DenoiseRepOptimWrapperConstructor``: mmengine's default constructor plus a learning rate of the
denoisers' own.

    optim_wrapper = dict(optimizer=dict(type='SGD', lr=1e-4, ...),
                         constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
                         paramwise_cfg=dict(bias_lr_mult=2.0, denoiser_lr_mult=4.0))

``denoiser_lr_mult``: every denoiser Parameter (`mmdenoiserep.denoiser_parameters`, the ``*.denoiser.*``
weights and biases) trains at ``lr * denoiser_lr_mult``, replacing whatever learning rate the other rules gave
it (``bias_lr_mult``, ``custom_keys``); its weight decay follows the other rules unchanged. This is the authors'
rule (RG12138/DenoiseRep Person-ReID/TransReID-SSL/transreid_pytorch/solver/make_optimizer.py: the ``dm``
parameters at ``BASE_LR * 4``, biases included). Param schedulers scale each group from its own initial LR,
so the multiplier holds along the schedule. A model without denoisers (the control) gets exactly the
default constructor's groups.
"""
from typing import List, Optional

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from ..core import denoiser_parameters
from ..registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['DenoiseRepOptimWrapperConstructor']


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DenoiseRepOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """`DefaultOptimWrapperConstructor` with ``paramwise_cfg.denoiser_lr_mult`` (default 1.0; see the module)."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        paramwise_cfg = dict(paramwise_cfg or {})
        mult = paramwise_cfg.pop('denoiser_lr_mult', 1.0)
        if isinstance(mult, bool) or not isinstance(mult, (int, float)) or not mult > 0:
            raise ValueError(f'paramwise_cfg.denoiser_lr_mult must be a positive number, got {mult!r}')
        self.denoiser_lr_mult = float(mult)
        # a non-empty paramwise_cfg makes the default constructor build one group per Parameter (add_params)
        super().__init__(optim_wrapper_cfg, paramwise_cfg or dict(custom_keys={}))

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '', is_dcn_module=None) -> None:
        super().add_params(params, module, prefix, is_dcn_module)
        if prefix:  # a recursive call: the groups are finished by the outermost one
            return
        denoisers = {id(p) for p in denoiser_parameters(module)}
        count = 0
        for group in params:
            if any(id(p) in denoisers for p in group['params']):
                group['lr'] = self.base_lr * self.denoiser_lr_mult
                count += 1
        if count:  # mmengine's paramwise log above shows the LR before this override
            print_log(f'DenoiseRepOptimWrapperConstructor: {count} denoiser parameters at lr '
                      f'{self.base_lr * self.denoiser_lr_mult:g} (lr {self.base_lr:g} x denoiser_lr_mult '
                      f'{self.denoiser_lr_mult:g})', logger='current')
