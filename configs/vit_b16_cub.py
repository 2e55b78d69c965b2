# ViT-B/16 fine-tuned on CUB-200-2011: the DenoiseRep baseline. Thin file: mmpretrain has no such config.
# mmpretrain's ViT-B/16 at 384px initialised from its official ImageNet checkpoint (ImageNet-21k
# pre-trained, ImageNet-1k fine-tuned, 85.43 acc@1), mmpretrain's CUB data config (resize to 510, crop
# 384) and CUB fine-tuning schedule (SGD, 100 epochs). Paper: DenoiseRep reports CUB-200, but method.md
# section 6 gives no figure.
# Trained on 8 GPUs x 8 images (cub_bs8_384's per-GPU batch): total batch 64, the batch of the cub_bs64 schedule's
# LR; seed 0; fp32.
_base_ = [
    'mmpretrain::_base_/models/vit-base-p16.py',
    'mmpretrain::_base_/datasets/cub_bs8_384.py',
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
    head=dict(num_classes=200))
data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])  # as the checkpoint was trained
auto_scale_lr = dict(base_batch_size=64)  # 8 GPUs x 8 images
randomness = dict(seed=0, deterministic=False)
