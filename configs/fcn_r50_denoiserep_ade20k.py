# DenoiseRep on FCN R50-D8 80k, ADE20K: the control config plus the method (its backbone wrapped, the DenoiseRep
# hook). Paper (method.md section 6): B-IoU 28.7 -> 29.9.
# Recipe: project recipe (the authors published no DenoiseRep code for segmentation). Training: the control's.
# Layers: preset 'authors' (every odd-kernel Conv2d of the ResNetV1c-50, deep stem included: 55 layers). lambda 0.1:
# the project's choice (no published source for segmentation; the authors use 0.1 for re-id, 0.01 for classification).
# Phases: 8,000 iterations of denoise, then 8,000 of finetune (interval 8000, offset 0, by iteration: the
# IterBasedTrainLoop's count), denoise first; the paper's loss over every position (loss_positions 1.0). Denoisers: lr
# 1e-3 x denoiser_lr_mult 1000 = 1.0 (SGD) at the start, under the same PolyLR (to 0.54 at the end of the denoise
# phase: eta_min 1e-4 is absolute), no weight decay (the control's keys).
# Summed denoiser LR over the denoise phase: 6.2e3 (the PolyLR sum of the 8,000 denoise iterations at 1.0 x (1 -
# i/16000)^0.9; ADE20K: 20,210 training images / 16 = about 1,263 iterations per epoch, so a phase is about 6.3
# epochs).
# Why this denoiser LR (SGD): a step is lr x gradient, and a denoiser entry's noise-loss gradient is only about lambda
# x 2.8 s / C (~1e-6; s = 0.01-0.1 the layer's noise level, C its in_channels), so the denoisers train at lambda x lr
# = 0.1 (stable under momentum 0.9 for layer inputs of mean square up to ~19; a dead channel's coefficient then grows
# by ~2.8 s / C per iteration towards its useful 1/s, method.md section 7), and undecayed: SGD's coupled weight decay
# would stop a coefficient near lambda x 2.8 s / (C x wd) whatever the LR (0.5 at lambda 0.1, s 0.05, C 256, wd 1e-4),
# far below 1/s.
_base_ = './fcn_r50_control_ade20k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='authors',
        example_input_shape=(1, 3, 512, 512)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'),
         interval=8000, offset=0, by_epoch=False, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
