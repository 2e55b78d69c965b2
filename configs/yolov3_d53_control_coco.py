# YOLOv3 DarkNet-53 320px 273e on COCO, control: the extra training of the DenoiseRep run, without denoising.
# Recipe: project recipe (the authors published no DenoiseRep code for detection). From the official checkpoint: 6
# epochs (two phases of 3), SGD (momentum 0.9, wd 5e-4, grad-norm clip 35) at the 273e schedule's final LR, 1e-5 (1e-3
# after its two x0.1 steps), constant; total batch 64 = 8 GPUs x 8; seed 0; fp32 (no AMP); validation at the end of
# each phase.
# Denoisers (none here; the keys are kept so that the DenoiseRep config differs from this one only by the method):
# every denoiser Parameter trains at lr 1e-5 x denoiser_lr_mult 100000 = 1.0 (SGD), constant, without weight decay.
_base_ = './yolov3_d53_coco.py'

train_cfg = dict(max_epochs=6, val_interval=3)
param_scheduler = []  # constant LR
default_hooks = dict(checkpoint=dict(interval=3))  # the stock config saves every 7 epochs
auto_scale_lr = dict(base_batch_size=64)  # 8 GPUs x 8 images
randomness = dict(seed=0, deterministic=False)
optim_wrapper = dict(
    optimizer=dict(lr=1e-5),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(denoiser_lr_mult=100000, custom_keys={'.denoiser.': dict(decay_mult=0.0)}))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmdetection/v2.0/yolo/yolov3_d53_320_273e_coco/yolov3_d53_320_273e_coco-421362b6.pth'  # noqa: E501
