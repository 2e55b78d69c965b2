# Mask R-CNN SwinV2-S on COCO, control: the extra training of the DenoiseRep run, without denoising.
# Recipe: project recipe (the authors published no DenoiseRep code for detection), the Mask R-CNN SwinV2-T row's
# (mask_rcnn_swinv2_t_control_coco.py) point by point. From the trained baseline (no official checkpoint): 6 epochs
# (two phases of 3), AdamW (wd 0.05 with the baseline's SwinV2 exemptions) at the 3x schedule's final LR, 1e-6 (1e-4
# after its two x0.1 steps, at epochs 27 and 33), constant; total batch 16 = 8 GPUs x 2; seed 0; AMP (the
# baseline's AmpOptimWrapper); validation at the end of each phase.
# Denoisers (none here; the keys are kept so that the DenoiseRep config differs from this one only by the method):
# every denoiser Parameter trains at lr 1e-6 x denoiser_lr_mult 1000 = 1e-3 (AdamW), constant, without weight decay.
_base_ = './mask_rcnn_swinv2_s_coco.py'

train_cfg = dict(max_epochs=6, val_interval=3)
param_scheduler = []  # constant LR
auto_scale_lr = dict(base_batch_size=16)  # 8 GPUs x 2 images
randomness = dict(seed=0, deterministic=False)
optim_wrapper = dict(
    optimizer=dict(lr=1e-6),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(denoiser_lr_mult=1000, custom_keys={  # merged with the baseline's keys
        '.denoiser.': dict(decay_mult=0.0)}))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'work_dirs/mask_rcnn_swinv2_s_coco/epoch_36.pth'  # the trained baseline (no official checkpoint)
