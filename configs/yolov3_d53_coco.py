# YOLOv3 DarkNet-53 320px 273e on COCO: the DenoiseRep baseline, mmdet's stock config with a fixed seed.
# Paper (method.md section 6): 27.9 -> 28.4 box AP with DenoiseRep; mmdet reports 27.9 for this config.
# Trained on 8 GPUs x 8 images (8xb8, total batch 64); seed 0 (mmdet sets none).
_base_ = ['mmdet::yolo/yolov3_d53_8xb8-320-273e_coco.py', './_base_/denoiserep_runtime.py']
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

auto_scale_lr = dict(base_batch_size=64)  # the stock LR's total batch: 8 GPUs x 8 images
randomness = dict(seed=0, deterministic=False)
