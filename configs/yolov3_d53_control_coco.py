# YOLOv3 DarkNet-53 320px 273e on COCO, control: the extra training of the DenoiseRep run, without denoising.
# Extra schedule (detection): two phases of 3 epochs from the official checkpoint, at the baseline
# schedule's final LR (1e-3 after its two x0.1 steps: 1e-5), constant; validation at the end of each phase.
_base_ = './yolov3_d53_coco.py'

train_cfg = dict(max_epochs=6, val_interval=3)
optim_wrapper = dict(optimizer=dict(lr=1e-5))
param_scheduler = []  # constant LR
default_hooks = dict(checkpoint=dict(interval=3))  # the stock config saves every 7 epochs
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmdetection/v2.0/yolo/yolov3_d53_320_273e_coco/yolov3_d53_320_273e_coco-421362b6.pth'  # noqa: E501
