# SwinV2-T fine-tuned on CUB-200-2011: the DenoiseRep baseline. Thin file: mmpretrain has no SwinV2 CUB config
# (its CUB configs are ResNet-50 and Swin-L). As the ViT-B/16 rows (vit_b16_cub.py): mmpretrain's SwinV2-T model
# (tiny_256, window 8) initialised from its official ImageNet-1k checkpoint (window 8, 256px, 81.76 acc@1: the
# swinv2_t_in1k row's), mmpretrain's CUB data config (resize to 510, crop 384) and CUB fine-tuning schedule (SGD
# 0.01 with Nesterov, wd 5e-4 on every parameter, 5 warm-up epochs then cosine, 100 epochs).
# Fine-tuned at 384px from the 256px checkpoint, window 8 kept: SwinV2's continuous position bias depends only on
# the window, and without an absolute position embedding img_size changes nothing but the stated input size; the
# 12x12 stage-4 map is padded to 16 and shifted (8x8 at 256px: one unshifted window).
# The model config's ImageNet batch augments (Mixup 0.8 / CutMix 1.0) are off, as in every mmpretrain CUB config
# (and the ViT-B rows); its label smoothing 0.1 and drop path 0.2 are kept.
# Paper: DenoiseRep reports CUB-200 for SwinV2-T, but method.md section 6 gives no figure.
# Trained on 8 GPUs x 8 images (cub_bs8_384's per-GPU batch): total batch 64, the batch of the cub_bs64 schedule's
# LR; seed 0; fp32.
_base_ = [
    'mmpretrain::_base_/models/swin_transformer_v2/tiny_256.py',
    'mmpretrain::_base_/datasets/cub_bs8_384.py',
    'mmpretrain::_base_/schedules/cub_bs64.py',
    'mmpretrain::_base_/default_runtime.py',
    './_base_/denoiserep_runtime.py',
]
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

pretrained = 'https://download.openmmlab.com/mmclassification/v0/swin-v2/swinv2-tiny-w8_3rdparty_in1k-256px_20220803-e318968f.pth'  # noqa: E501
model = dict(
    backbone=dict(
        img_size=384,
        window_size=8,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone')),
    head=dict(num_classes=200),
    train_cfg=None)  # no Mixup / CutMix
auto_scale_lr = dict(base_batch_size=64)  # 8 GPUs x 8 images
randomness = dict(seed=0, deterministic=False)
