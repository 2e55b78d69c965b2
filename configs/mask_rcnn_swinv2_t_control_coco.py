# Mask R-CNN SwinV2-T on COCO, control: the extra training of the DenoiseRep run, without denoising.
# Extra schedule (detection): two phases of 3 epochs from the trained baseline, at the 1x schedule's final
# LR (AdamW 1e-4 after its two x0.1 steps: 1e-6), constant; validation at the end of each phase.
_base_ = './mask_rcnn_swinv2_t_coco.py'

train_cfg = dict(max_epochs=6, val_interval=3)
optim_wrapper = dict(optimizer=dict(lr=1e-6))
param_scheduler = []  # constant LR
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'work_dirs/mask_rcnn_swinv2_t_coco/epoch_12.pth'  # the trained baseline (no official checkpoint)
