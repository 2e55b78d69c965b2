# ViT-B/16 fine-tuned on CIFAR-10: the DenoiseRep baseline. Thin file: mmpretrain has no such config.
# mmpretrain's ViT-B/16 at 384px initialised from its official ImageNet checkpoint (ImageNet-21k
# pre-trained, ImageNet-1k fine-tuned, 85.43 acc@1), CIFAR-10 images resized to 384, the fine-grained
# fine-tuning schedule of mmpretrain's CUB configs (SGD, 100 epochs). Paper (method.md section 6):
# acc@1 98.02 -> 98.31 with DenoiseRep.
# Trained on 4 GPUs x 16 images (cifar10_bs16's per-GPU batch): total batch 64, the batch of the CUB schedule's
# LR (mmpretrain's CUB configs: 8 GPUs x 8); seed 0; fp32.
_base_ = [
    'mmpretrain::_base_/models/vit-base-p16.py',
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    'mmpretrain::_base_/schedules/cub_bs64.py',
    'mmpretrain::_base_/default_runtime.py',
    './_base_/denoiserep_runtime.py',
]
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

pretrained = 'https://download.openmmlab.com/mmclassification/v0/vit/finetune/vit-base-p16_in21k-pre-3rdparty_ft-64xb64_in1k-384_20210928-98e8652b.pth'  # noqa: E501
model = dict(
    backbone=dict(
        img_size=384,
        init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=pretrained, prefix='backbone')),
    head=dict(num_classes=10))
data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])  # as the checkpoint was trained

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
