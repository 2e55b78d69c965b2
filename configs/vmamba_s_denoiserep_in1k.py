# DenoiseRep on VMamba-S, ImageNet-1k: the control config plus the method (its backbone wrapped, the DenoiseRep hook).
# Recipe: project recipe (the authors published no DenoiseRep code for VMamba): the authors' SwinV2 ImageNet settings
# (authors' code RG12138/DenoiseRep Classification/imagenet/Swin-Transformer main.py, config.py): lambda 0.01
# (MODEL.DIFFUSION_LOSS_WEIGHT), the paper's loss over every position, phases of 10 epochs (TRAIN.FT_EPOCH) starting
# with denoise at epoch 0 (6 cycles in 120 epochs). Layers: preset 'all', every embedding layer of VMamba (the paper:
# "each embedding layer"; the authors' transformer rule, MLP Linears only, has no VMamba form): the patch-embedding and
# downsampling convs, and in every VSS block in_proj, the depthwise conv, x_proj and dt_projs (the official
# x_proj_weight / dt_projs_weight, four directions stacked, applied through einsum by ScanProjection: the weight-read
# path, one denoiser each), out_proj and the MLP's fc1/fc2: 103 layers (T), 152 (S, B). Denoisers: lr 2.5e-5 x
# denoiser_lr_mult 5 = 1.25e-4 (AdamW) at the peak, under the control's schedule, no weight decay (the control's keys).
# Summed denoiser LR over the 60 denoise-phase epochs: 4.04e-3 x iterations per epoch (about 5,005 at 256 images: 20;
# the authors' x1 would give 4.05).
# Why this denoiser LR (AdamW): Adam moves an entry by about lr per step, so the summed LR is about the largest
# coefficient the denoise phases can reach (method.md section 7: useful ones are 10-100, up to 1/sqrt(1 - abar_t)); x5
# brings it to 20, as the project's other Adam-family rows (18-22); undecayed: AdamW's decoupled decay would pull the
# coefficients back towards 0.
_base_ = './vmamba_s_control_in1k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='all',
        example_input_shape=(1, 3, 224, 224)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.01, phases=('denoise', 'finetune'), interval=10, offset=0,
         by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
