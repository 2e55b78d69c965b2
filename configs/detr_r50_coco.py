# DETR R50 150e on COCO: the DenoiseRep baseline, mmdet's stock config with a fixed seed.
# Paper (method.md section 6): 39.9 -> 40.8 box AP with DenoiseRep; mmdet reports 39.9 for this config.
# Trained on 8 GPUs x 2 images (8xb2, total batch 16); seed 0 (mmdet sets none).
_base_ = ['mmdet::detr/detr_r50_8xb2-150e_coco.py', './_base_/denoiserep_runtime.py']
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

auto_scale_lr = dict(base_batch_size=16)  # the stock LR's total batch: 8 GPUs x 2 images
randomness = dict(seed=0, deterministic=False)
