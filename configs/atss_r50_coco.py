# ATSS R50-FPN 1x on COCO: the DenoiseRep baseline, mmdet's stock config with a fixed seed.
# Paper (method.md section 6): 39.4 -> 39.9 box AP with DenoiseRep; mmdet reports 39.4 for this config.
# Trained on 8 GPUs x 2 images (total batch 16); seed 0 (mmdet sets none).
_base_ = ['mmdet::atss/atss_r50_fpn_1x_coco.py', './_base_/denoiserep_runtime.py']
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

auto_scale_lr = dict(base_batch_size=16)  # the stock LR's total batch: 8 GPUs x 2 images
randomness = dict(seed=0, deterministic=False)
