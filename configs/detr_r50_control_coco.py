# DETR R50 150e on COCO, control: the extra training of the DenoiseRep run, without denoising.
# Extra schedule (detection): two phases of 3 epochs from the official checkpoint, at the baseline
# schedule's final LR (AdamW 1e-4 after its x0.1 step: 1e-5), constant; validation at the end of each phase.
_base_ = './detr_r50_coco.py'

train_cfg = dict(max_epochs=6, val_interval=3)
optim_wrapper = dict(optimizer=dict(lr=1e-5))
param_scheduler = []  # constant LR
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmdetection/v3.0/detr/detr_r50_8xb2-150e_coco/detr_r50_8xb2-150e_coco_20221023_153551-436d03e8.pth'  # noqa: E501
