# DenoiseRep on ViT-B/16 (AugReg, 224px), ImageNet-1k: the control config plus the method (its backbone wrapped,
# the DenoiseRep hook). Paper: acc@1 84.53 -> unreadable, acc@5 97.15 -> 97.23.
# Recipe: project recipe (the authors published DenoiseRep code for ImageNet only for SwinV2; their stage is carried
# over to ViT). Training: the control's.
# Layers: preset 'authors', the authors' ViT rule (convert_vit_denoise_linear: the Linear children of the MLP blocks,
# mmpretrain's ffn fc1/fc2 of the 12 blocks: 24 layers). lambda 0.01 (MODEL.DIFFUSION_LOSS_WEIGHT, the authors'
# classification weight), the paper's loss over every position, phases of 10 epochs (TRAIN.FT_EPOCH) starting with
# denoise at epoch 0 (main.py counts epochs from 0: denoise 0-9, finetune 10-19, ...; 6 cycles). Denoisers: lr 2.5e-5 x
# denoiser_lr_mult 5 = 1.25e-4 (AdamW) at the peak, under the control's schedule, no weight decay (the control's keys).
# Summed denoiser LR over the 60 denoise-phase epochs: 4.04e-3 x iterations per epoch (about 5,005 at 256 images:
# 20; the authors' x1 would give 4.05).
# Why this denoiser LR (AdamW): Adam moves an entry by about lr per step, so the summed LR is about the largest
# coefficient the denoise phases can reach (method.md section 7: useful ones are 10-100, up to 1/sqrt(1 - abar_t));
# x5 brings it to 20, as the project's other Adam-family rows (18-22); undecayed: AdamW's decoupled decay would pull
# the coefficients back towards 0.
# Not copied from the authors' code (method.md sections 4-5): the random term and in-place refusion of their
# fuse_parameters at every checkpoint; their per-module restart of the step numbering (here global).
_base_ = './vit_b_control_in1k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='authors',  # the authors' MLP-block rule: fc1, fc2 of every block
        example_input_shape=(1, 3, 224, 224)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.01, phases=('denoise', 'finetune'), interval=10, offset=0,
         by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
