# Mask R-CNN R50-FPN on COCO: the DenoiseRep baseline, mmdet's stock config with a fixed seed.
# Paper (method.md section 6): 42.6 box AP; +DenoiseRep 43.2. No stock R50-FPN Mask R-CNN config reports
# 42.6: this is the closest one with an official checkpoint (multi-scale, poly masks, 3x: 40.9 box AP).
# Trained on 8 GPUs x 2 images (total batch 16); seed 0 (mmdet sets none).
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_ms-poly-3x_coco.py', './_base_/denoiserep_runtime.py']
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

auto_scale_lr = dict(base_batch_size=16)  # the stock LR's total batch: 8 GPUs x 2 images
randomness = dict(seed=0, deterministic=False)
