# DenoiseRep on ViT-S/16 on VehicleID: the control config plus the method (its backbone wrapped, the DenoiseRep hook).
# The paper's VehicleID figures are not in method.md section 6.
# Recipe: project recipe (the authors published DenoiseRep code for person re-id only, none for vehicles). Training:
# the control's.
# Layers: preset 'authors' (the Linear layers of the MLP blocks, fc1/fc2 of the 12 blocks: 24 layers). lambda 0.1, the
# authors' re-id weight. Phases: 10 epochs of denoise, then 10 of finetune (interval 10, offset 0, by epoch), denoise
# first; the paper's loss over every position (loss_positions 1.0). Denoisers: lr 4e-5 x denoiser_lr_mult 25000 = 1.0
# (SGD) at the start, under the same per-epoch cosine, no weight decay (the control's keys).
# Summed denoiser LR over the denoise phase: 1.2e4 (1.0 x 8.43 epoch-equivalents of the cosine x about 1,460
# iterations per epoch: 113,346 images of 13,164 vehicles in 4-image chunks, 16 vehicles per batch).
# Why this denoiser LR (SGD): a step is lr x gradient, and a denoiser entry's noise-loss gradient is only about lambda
# x 2.8 s / C (~1e-6; s = 0.01-0.1 the layer's noise level, C its in_channels), so the denoisers train at lambda x lr
# = 0.1 (stable under momentum 0.9 for layer inputs of mean square up to ~19; a dead channel's coefficient then grows
# by ~2.8 s / C per iteration towards its useful 1/s, method.md section 7), and undecayed: SGD's coupled weight decay
# would stop a coefficient near lambda x 2.8 s / (C x wd) whatever the LR (0.5 at lambda 0.1, s 0.05, C 256, wd 1e-4),
# far below 1/s.
_base_ = './transreid_ssl_vit_s_control_vehicleid.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='authors',
        example_input_shape=(1, 3, 256, 256)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'),
         interval=10, offset=0, by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
