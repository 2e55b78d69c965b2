# DenoiseRep on VMamba-B, ImageNet-1k: the control config plus the method (its backbone wrapped, the DenoiseRep hook).
# Recipe: project recipe (the authors published no DenoiseRep code for VMamba): the authors' SwinV2 ImageNet settings
# (authors' code RG12138/DenoiseRep Classification/imagenet/Swin-Transformer main.py, config.py): lambda 0.01
# (MODEL.DIFFUSION_LOSS_WEIGHT), the paper's loss over every position, phases of 10 epochs (TRAIN.FT_EPOCH) starting
# with denoise at epoch 0 (6 cycles in 120 epochs), denoiser lr x1 (the control's AdamW). Layers: preset 'all', every
# embedding layer of VMamba (the paper: "each embedding layer"; the authors' transformer rule, MLP Linears only, has
# no VMamba form): the patch-embedding and downsampling convs, and in every VSS block in_proj, the depthwise conv,
# x_proj_weight and dt_projs_weight (applied by SS2D through einsum: the weight-read path), out_proj and the MLP's
# fc1/fc2. Summed denoiser LR over the 60 denoise-phase epochs: 8.09e-4 x iterations per epoch (about 5,005 at
# 256 images: 4.05), as in the SwinV2 rows.
_base_ = './vmamba_b_control_in1k.py'

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
