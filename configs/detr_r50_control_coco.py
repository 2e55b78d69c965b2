# DETR R50 150e on COCO, control: the extra training of the DenoiseRep run, without denoising.
# Recipe: project recipe (the authors published no DenoiseRep code for detection). From the official checkpoint: 6
# epochs (two phases of 3), AdamW (wd 1e-4, grad-norm clip 0.1, backbone lr x0.1) at the 150e schedule's final LR,
# 1e-5 (1e-4 after its x0.1 step), constant; total batch 16 = 8 GPUs x 2; seed 0; fp32 (no AMP); validation at the end
# of each phase.
# Denoisers (none here; the keys are kept so that the DenoiseRep config differs from this one only by the method):
# every denoiser Parameter trains at lr 1e-5 x denoiser_lr_mult 100 = 1e-3 (AdamW; in place of the backbone's x0.1),
# constant, without weight decay.
_base_ = './detr_r50_coco.py'

train_cfg = dict(max_epochs=6, val_interval=3)
param_scheduler = []  # constant LR
auto_scale_lr = dict(base_batch_size=16)  # 8 GPUs x 2 images
randomness = dict(seed=0, deterministic=False)
optim_wrapper = dict(
    optimizer=dict(lr=1e-5),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(denoiser_lr_mult=100, custom_keys={'.denoiser.': dict(decay_mult=0.0)}))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmdetection/v3.0/detr/detr_r50_8xb2-150e_coco/detr_r50_8xb2-150e_coco_20221023_153551-436d03e8.pth'  # noqa: E501
