# Faster R-CNN R50-FPN 1x on COCO, control: the extra training of the DenoiseRep run, without denoising.
# Extra schedule (detection): two phases of 3 epochs from the official checkpoint, at the baseline
# schedule's final LR (0.02 after its two x0.1 steps: 2e-4), constant; validation at the end of each phase.
_base_ = './faster_rcnn_r50_coco.py'

train_cfg = dict(max_epochs=6, val_interval=3)
optim_wrapper = dict(optimizer=dict(lr=2e-4))
param_scheduler = []  # constant LR
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/faster_rcnn_r50_fpn_1x_coco/faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth'  # noqa: E501
