# Mask R-CNN R50-FPN on COCO, control: the extra training of the DenoiseRep run, without denoising.
# Extra schedule (detection): two phases from the official checkpoint at the 3x schedule's final LR (0.02
# after its two x0.1 steps: 2e-4), constant. Its epochs repeat COCO 3 times (RepeatDataset): phases of one
# such epoch, i.e. 3 COCO epochs each as in the 1x rows; validation at the end of each phase.
_base_ = './mask_rcnn_r50_coco.py'

train_cfg = dict(max_epochs=2, val_interval=1)
optim_wrapper = dict(optimizer=dict(lr=2e-4))
param_scheduler = []  # constant LR
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_r50_fpn_mstrain-poly_3x_coco/mask_rcnn_r50_fpn_mstrain-poly_3x_coco_20210524_201154-21b550bb.pth'  # noqa: E501
