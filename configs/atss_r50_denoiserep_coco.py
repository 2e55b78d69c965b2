# DenoiseRep on ATSS R50-FPN 1x, COCO: the control config plus the method (its backbone wrapped, the DenoiseRep hook).
# Paper (method.md section 6): 39.4 -> 39.9 box AP.
# Recipe: project recipe (the authors published no DenoiseRep code for detection). Training: the control's.
# Layers: preset 'authors' (every odd-kernel Conv2d of the ResNet-50: 53 layers). lambda 0.1: the project's choice (no
# published source for detection; the authors use 0.1 for re-id, 0.01 for classification). Phases: 3 epochs of
# denoise, then 3 of finetune (interval 3, offset 0, by epoch), denoise first; the paper's loss over every position
# (loss_positions 1.0). Denoisers: lr 1e-4 x denoiser_lr_mult 10000 = 1.0 (SGD), constant, no weight decay (the
# control's keys).
# Summed denoiser LR over the denoise phase: 1.0 x 3 epochs x 7,330 iterations = 2.2e4 (COCO train2017: 117,266 images
# / 16 = about 7,330 iterations per epoch at total batch 16 = 8 GPUs x 2).
# Why this denoiser LR (SGD): a step is lr x gradient, and a denoiser entry's noise-loss gradient is only about lambda
# x 2.8 s / C (~1e-6; s = 0.01-0.1 the layer's noise level, C its in_channels), so the denoisers train at lambda x lr
# = 0.1 (stable under momentum 0.9 for layer inputs of mean square up to ~19; a dead channel's coefficient then grows
# by ~2.8 s / C per iteration towards its useful 1/s, method.md section 7), and undecayed: SGD's coupled weight decay
# would stop a coefficient near lambda x 2.8 s / (C x wd) whatever the LR (0.5 at lambda 0.1, s 0.05, C 256, wd 1e-4),
# far below 1/s.
_base_ = './atss_r50_control_coco.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='authors',
        example_input_shape=(1, 3, 224, 224)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'),
         interval=3, offset=0, by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
