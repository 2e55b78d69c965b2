# DenoiseRep on SwinV2-S (window 8, 256px), ImageNet-1k: the control config plus the method (its backbone wrapped,
# the DenoiseRep hook). Recipe: authors' code RG12138/DenoiseRep Classification/imagenet/Swin-Transformer (main.py,
# config.py, denoiserep_op): the Linear layers of the MLP blocks and of the continuous position bias MLPs
# (convert_vit_denoise_linear: ffn fc1/fc2 and cpb_mlp, 96 layers; preset 'authors'), lambda 0.01
# (MODEL.DIFFUSION_LOSS_WEIGHT), the paper's loss over every position, phases of 10 epochs (TRAIN.FT_EPOCH)
# starting with denoise at epoch 0 (main.py counts epochs from 0: denoise 0-9, finetune 10-19, ...; 6 cycles),
# denoiser lr x1 (the control's denoiser_lr_mult). Summed denoiser LR over the 60 denoise-phase epochs:
# 8.09e-4 x iterations per epoch (about 5,005 at 256 images: 4.05).
# Not copied from the authors' code (method.md sections 4-5): the random term and in-place refusion of their
# fuse_parameters at every checkpoint; their per-module restart of the step numbering (here global).
_base_ = './swinv2_s_control_in1k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='authors',
        example_input_shape=(1, 3, 256, 256)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.01, phases=('denoise', 'finetune'), interval=10, offset=0,
         by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
