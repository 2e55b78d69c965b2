# DenoiseRep on ViT-S/16 fine-tuned on CIFAR-10: the control config plus the method (its backbone wrapped, the
# DenoiseRep hook). Paper (slides' classification table): acc@1 96.13 -> 96.20.
# Recipe: project recipe (the authors' CIFAR-10 code trains a patch-4 ViT from scratch, a different experiment; they
# published none for ViT fine-tuning): the ViT-B/16 CIFAR-10 row's (vit_b16_denoiserep_cifar10.py), point by point.
# Training: the control's.
# Layers: preset 'authors', the authors' ViT rule (convert_vit_denoise_linear: the Linear layers of the MLP blocks,
# mmpretrain's ffn fc1/fc2 of the 12 blocks: 24 layers). lambda 0.01, the authors' classification weight. Phases: 10
# epochs of denoise, then 10 of finetune (interval 10, offset 0, by epoch), denoise first; the paper's loss over every
# position (loss_positions 1.0). Denoisers: lr 1e-3 x denoiser_lr_mult 10000 = 10 (SGD) at the start, under the same
# per-epoch cosine, no weight decay (the control's keys).
# Summed denoiser LR over the denoise phase: 6.6e4 (10 x 8.43 epoch-equivalents of the cosine x 782 iterations per
# epoch: 50,000 images / 64 = 782, total batch 4 GPUs x 16).
# Why this denoiser LR (SGD): a step is lr x gradient, and a denoiser entry's noise-loss gradient is only about lambda
# x 2.8 s / C (~1e-6; s = 0.01-0.1 the layer's noise level, C its in_channels), so the denoisers train at lambda x lr
# = 0.1 (stable under momentum 0.9 for layer inputs of mean square up to ~19; a dead channel's coefficient then grows
# by ~2.8 s / C per iteration towards its useful 1/s, method.md section 7), and undecayed: SGD's coupled weight decay
# would stop a coefficient near lambda x 2.8 s / (C x wd) whatever the LR (0.5 at lambda 0.1, s 0.05, C 256, wd 1e-4),
# far below 1/s.
_base_ = './vit_s16_control_cifar10.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='authors',  # the authors' MLP-block rule: fc1, fc2 of every block
        example_input_shape=(1, 3, 384, 384)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.01, phases=('denoise', 'finetune'),
         interval=10, offset=0, by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
