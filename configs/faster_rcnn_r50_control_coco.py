# Faster R-CNN R50-FPN 1x on COCO, control: the extra training of the DenoiseRep run, without denoising.
# Recipe: project recipe (the authors published no DenoiseRep code for detection). From the official 1x checkpoint: 6
# epochs (two phases of 3), SGD (momentum 0.9, wd 1e-4) at the 1x schedule's final LR, 2e-4 (0.02 after its two x0.1
# steps), constant; total batch 16 = 8 GPUs x 2; seed 0; fp32 (no AMP); validation at the end of each phase.
# Denoisers (none here; the keys are kept so that the DenoiseRep config differs from this one only by the method):
# every denoiser Parameter trains at lr 2e-4 x denoiser_lr_mult 5000 = 1.0 (SGD), constant, without weight decay.
_base_ = './faster_rcnn_r50_coco.py'

train_cfg = dict(max_epochs=6, val_interval=3)
param_scheduler = []  # constant LR
auto_scale_lr = dict(base_batch_size=16)  # 8 GPUs x 2 images
randomness = dict(seed=0, deterministic=False)
optim_wrapper = dict(
    optimizer=dict(lr=2e-4),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(denoiser_lr_mult=5000, custom_keys={'.denoiser.': dict(decay_mult=0.0)}))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/faster_rcnn_r50_fpn_1x_coco/faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth'  # noqa: E501
