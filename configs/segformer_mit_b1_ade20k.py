# SegFormer MiT-b1 160k on ADE20K (512x512): the DenoiseRep baseline. Thin file: mmseg's stock config plus the
# boundary IoU metric beside mIoU (the paper reports B-IoU on ADE20K; the metric logs mBIoU).
# Paper (method.md section 6): small gains with DenoiseRep, no figure. mmseg reports 40.97 mIoU for this config.
# Trained on 8 GPUs x 2 images (8xb2), total batch 16; seed 0 (mmseg sets none).
_base_ = ['mmseg::segformer/segformer_mit-b1_8xb2-160k_ade20k-512x512.py', './_base_/denoiserep_runtime.py']
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

val_evaluator = [{{_base_.val_evaluator}}, dict(type='mmdenoiserep.BoundaryIoUMetric')]
test_evaluator = val_evaluator
auto_scale_lr = dict(base_batch_size=16)  # the stock LR's total batch: 8 GPUs x 2 images
randomness = dict(seed=0, deterministic=False)
