# CenterNet-update R50-caffe-FPN ms-1x on COCO: the DenoiseRep baseline, mmdet's stock config with a fixed seed.
# Paper (method.md section 6): 40.2 -> 40.6 box AP with DenoiseRep; mmdet reports 40.2 for this config.
# Trained on 8 GPUs x 2 images (total batch 16); seed 0 (mmdet sets none).
_base_ = ['mmdet::centernet/centernet-update_r50-caffe_fpn_ms-1x_coco.py', './_base_/denoiserep_runtime.py']
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

auto_scale_lr = dict(base_batch_size=16)  # the stock LR's total batch: 8 GPUs x 2 images
randomness = dict(seed=0, deterministic=False)
