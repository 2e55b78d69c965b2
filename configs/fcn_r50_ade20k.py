# FCN R50-D8 80k on ADE20K (512x512): the DenoiseRep baseline. Thin file: mmseg's stock config plus the
# boundary IoU metric beside mIoU (the paper reports B-IoU on ADE20K; the metric logs mBIoU).
# Paper (method.md section 6): B-IoU 28.7 -> 29.9 with DenoiseRep. mmseg reports 35.94 mIoU for this config.
# Trained on 4 GPUs x 4 images (4xb4), total batch 16; seed 0 (mmseg sets none).
_base_ = ['mmseg::fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py', './_base_/denoiserep_runtime.py']
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

val_evaluator = [{{_base_.val_evaluator}}, dict(type='mmdenoiserep.BoundaryIoUMetric')]
test_evaluator = val_evaluator
auto_scale_lr = dict(base_batch_size=16)  # the stock LR's total batch: 4 GPUs x 4 images
randomness = dict(seed=0, deterministic=False)
