# DenoiseRep on TransReID-SSL ViT-B/16 on Market-1501: the control config plus the method (its backbone wrapped, the
# DenoiseRep hook). The paper reports no ViT-B re-id figure.
# Recipe: project recipe (the authors published DenoiseRep code for TransReID-SSL ViT-S only, none for ViT-B).
# Training: the control's.
# Layers: preset 'authors' (the Linear layers of the MLP blocks, fc1/fc2 of the 12 blocks: 24 layers). lambda 0.1, the
# authors' re-id weight. Phases: 10 epochs of denoise, then 10 of finetune (interval 10, offset 0, by epoch), denoise
# first; the paper's loss over every position (loss_positions 1.0). Denoisers: lr 8e-4 x denoiser_lr_mult 1250 = 1.0
# (SGD) at the start, under the same per-epoch cosine, no weight decay (the control's keys).
# Summed denoiser LR over the denoise phase: 1.6e3 (1.0 x 8.43 epoch-equivalents of the cosine x about 184 iterations
# per epoch: 12,936 images of 751 identities in 4-image chunks, 16 identities per batch).
# Why this denoiser LR (SGD): a step is lr x gradient, and a denoiser entry's noise-loss gradient is only about lambda
# x 2.8 s / C (~1e-6; s = 0.01-0.1 the layer's noise level, C its in_channels), so the denoisers train at lambda x lr
# = 0.1 (stable under momentum 0.9 for layer inputs of mean square up to ~19; a dead channel's coefficient then grows
# by ~2.8 s / C per iteration towards its useful 1/s, method.md section 7), and undecayed: SGD's coupled weight decay
# would stop a coefficient near lambda x 2.8 s / (C x wd) whatever the LR (0.5 at lambda 0.1, s 0.05, C 256, wd 1e-4),
# far below 1/s.
_base_ = './transreid_ssl_vit_b_control_market1501.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='authors',
        example_input_shape=(1, 3, 256, 128)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'),
         interval=10, offset=0, by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
