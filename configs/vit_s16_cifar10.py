# ViT-S/16 fine-tuned on CIFAR-10: the DenoiseRep baseline. Thin file: mmpretrain has no such config.
# The ViT-B/16 CIFAR-10 row (vit_b16_cifar10.py) point by point, with ViT-S: mmpretrain's ViT (vit-base-p16.py's
# model) with arch 'deit-small' (ViT-S/16, 384 channels, 22M) at 384px, its backbone initialised from timm's AugReg
# ViT-S/16 (ImageNet-21k pre-trained, ImageNet-1k fine-tuned at 384px; vit_small_patch16_384.augreg_in21k_ft_in1k,
# 83.80 acc@1 in timm's results-imagenet.csv; the ImageNet ViT-S row's weights, vit_s_in1k.py) as the ViT-B/16 row
# starts from the AugReg ViT-B/16 384px, with their normalisation (mean = std = 0.5), CIFAR-10 images resized to
# 384, the fine-grained fine-tuning schedule of mmpretrain's CUB configs (SGD, 100 epochs), no Mixup/CutMix.
# Paper (slides' classification table): acc@1 96.13 -> 96.20 with DenoiseRep (no acc@5).
# The weights (backbone only: init_cfg prefix 'backbone'), converted once (safetensors is not installed here):
#   wget https://huggingface.co/timm/vit_small_patch16_384.augreg_in21k_ft_in1k/resolve/main/pytorch_model.bin
#   python tools/model_converters/timm_vit_to_mmpretrain.py pytorch_model.bin \
#       pretrain/vit_small_p16_augreg_in21k_ft_in1k_384.pth
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

pretrained = 'pretrain/vit_small_p16_augreg_in21k_ft_in1k_384.pth'  # timm's AugReg ViT-S/16 384px, converted
model = dict(
    backbone=dict(
        arch='deit-small',  # ViT-S/16: 384 channels, 12 blocks, 6 heads (mmpretrain's 's' is a 768-wide ViT)
        img_size=384,
        init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=pretrained, prefix='backbone')),
    head=dict(num_classes=10, in_channels=384))
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
