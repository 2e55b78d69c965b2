# ViT-S/16 fine-tuned on CIFAR-10: the DenoiseRep baseline. Thin file: mmpretrain has no such config.
# The ViT-B/16 CIFAR-10 row (vit_b16_cifar10.py) point by point, with ViT-S: the ImageNet ViT-S of this project
# (vit_s_in1k.py; mmpretrain's DeiT III ViT-S/16 at 384px, 22.2M) initialised from its official ImageNet-1k
# checkpoint (83.43 acc@1), CIFAR-10 images resized to 384, the fine-grained fine-tuning schedule of mmpretrain's
# CUB configs (SGD, 100 epochs), no Mixup/CutMix (as the ViT-B row; the DeiT III model base adds them for ImageNet).
# Paper (slides' classification table): acc@1 96.13 -> 96.20 with DenoiseRep (no acc@5).
# Trained on 4 GPUs x 16 images (cifar10_bs16's per-GPU batch): total batch 64, the batch of the CUB schedule's
# LR (mmpretrain's CUB configs: 8 GPUs x 8); seed 0; fp32.
_base_ = [
    'mmpretrain::_base_/models/deit3/deit3-small-p16-384.py',
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    'mmpretrain::_base_/schedules/cub_bs64.py',
    'mmpretrain::_base_/default_runtime.py',
    './_base_/denoiserep_runtime.py',
]
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

pretrained = 'https://download.openmmlab.com/mmclassification/v0/deit3/deit3-small-p16_3rdparty_in1k-384px_20221008-a2c1a0c7.pth'  # noqa: E501
model = dict(
    backbone=dict(
        img_size=384,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone')),
    head=dict(num_classes=10),
    train_cfg=None)  # no Mixup/CutMix
data_preprocessor = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])  # as the checkpoint was trained

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Resize', scale=384),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='Resize', scale=384), dict(type='PackInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
auto_scale_lr = dict(base_batch_size=64)  # 4 GPUs x 16 images
randomness = dict(seed=0, deterministic=False)
