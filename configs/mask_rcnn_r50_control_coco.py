# Mask R-CNN R50-FPN (multi-scale, poly masks, 3x) on COCO, control: the extra training of the DenoiseRep run, without
# denoising.
# Recipe: project recipe (the authors published no DenoiseRep code for detection). From the official 3x checkpoint: 2
# epochs of the 3x config (its RepeatDataset repeats COCO 3 times: phases of one such epoch, 3 COCO epochs each as in
# the 1x rows), SGD (momentum 0.9, wd 1e-4) at the 3x schedule's final LR, 2e-4 (0.02 after its two x0.1 steps),
# constant; total batch 16 = 8 GPUs x 2; seed 0; fp32 (no AMP); validation at the end of each phase.
# Denoisers (none here; the keys are kept so that the DenoiseRep config differs from this one only by the method):
# every denoiser Parameter trains at lr 2e-4 x denoiser_lr_mult 5000 = 1.0 (SGD), constant, without weight decay.
_base_ = './mask_rcnn_r50_coco.py'

train_cfg = dict(max_epochs=2, val_interval=1)
param_scheduler = []  # constant LR
auto_scale_lr = dict(base_batch_size=16)  # 8 GPUs x 2 images
randomness = dict(seed=0, deterministic=False)
optim_wrapper = dict(
    optimizer=dict(lr=2e-4),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(denoiser_lr_mult=5000, custom_keys={'.denoiser.': dict(decay_mult=0.0)}))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_r50_fpn_mstrain-poly_3x_coco/mask_rcnn_r50_fpn_mstrain-poly_3x_coco_20210524_201154-21b550bb.pth'  # noqa: E501
