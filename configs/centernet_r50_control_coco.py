# CenterNet-update R50-caffe-FPN ms-1x on COCO, control: the extra training of the DenoiseRep run, without denoising.
# Extra schedule (detection): two phases of 3 epochs from the official checkpoint, at the baseline
# schedule's final LR (0.01 after its two x0.1 steps: 1e-4), constant; validation at the end of each phase.
_base_ = './centernet_r50_coco.py'

train_cfg = dict(max_epochs=6, val_interval=3)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = []  # constant LR
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmdetection/v3.0/centernet/centernet-update_r50-caffe_fpn_ms-1x_coco/centernet-update_r50-caffe_fpn_ms-1x_coco_20230512_203845-8306baf2.pth'  # noqa: E501
