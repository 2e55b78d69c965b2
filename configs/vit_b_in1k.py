# ViT-B/16 (AugReg, 224px, 86.6M) on ImageNet-1k: the DenoiseRep baseline. Thin file: mmpretrain has no config
# for these weights (its ViT-B/16 configs: 224px trained from scratch with a hidden head layer, and 384px).
# Paper (slides' classification table): acc@1 84.53 -> unreadable in the OCR ('o'), acc@5 97.15 -> 97.23 with
# DenoiseRep. The paper's 84.53 is timm's AugReg ViT-B/16 (Steiner et al., "How to train your ViT?"; ImageNet-21k
# pre-trained, ImageNet-1k fine-tuned at 224px; vit_base_patch16_224.augreg_in21k_ft_in1k, original
# B_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.01-res_224.npz):
# 84.53 / 97.30 in timm's results/results-imagenet.csv (84.534 / 97.300; its 2022-12 version 84.532 / 97.294),
# the same acc@1, acc@5 +0.15 over the paper's 97.15.
# Model: mmpretrain's ViT-B/16 (_base_/models/vit-base-p16.py: VisionTransformer 'b' with class token and final
# norm, VisionTransformerClsHead without hidden layer) at 224px, timm's model under other tensor names.
# Test transform: timm's for these weights (pretrained_cfg: input 224, crop_pct 0.9, bicubic, mean = std = 0.5):
# PIL decode, short side to floor(224 / 0.9) = 248 (PIL bicubic), center crop 224, (x - 127.5) / 127.5.
# To evaluate the paper's baseline (safetensors is not installed here: take pytorch_model.bin):
#   wget https://huggingface.co/timm/vit_base_patch16_224.augreg_in21k_ft_in1k/resolve/main/pytorch_model.bin
#   python tools/model_converters/timm_vit_to_mmpretrain.py pytorch_model.bin \
#       pretrain/vit_base_p16_augreg_in21k_ft_in1k_224.pth
#   python tools/test.py configs/vit_b_in1k.py pretrain/vit_base_p16_augreg_in21k_ft_in1k_224.pth
# Training settings (only the control and DenoiseRep runs train, from these weights): RandomResizedCrop 224
# (bicubic) and flip, Mixup 0.8 / CutMix 1.0, label smoothing 0.1 (the data and augmentation of the ViT rows'
# earlier DeiT III baseline, also the authors' Swin stage's Mixup, CutMix and smoothing), no dropout or stochastic
# depth (the AugReg fine-tuning's, do_0.0-sd_0.0). Batch 64 GPUs x 64 = 4096, the auto_scale_lr base of
# mmpretrain's ViT configs; the seed of the control and DenoiseRep runs.
_base_ = [
    'mmpretrain::_base_/models/vit-base-p16.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_deit3_384.py',
    'mmpretrain::_base_/schedules/imagenet_bs4096_AdamW.py',
    'mmpretrain::_base_/default_runtime.py',
    './_base_/denoiserep_runtime.py',
]
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

model = dict(
    backbone=dict(img_size=224, drop_rate=0.0, drop_path_rate=0.0),
    head=dict(loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))
data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])  # timm's 0.5 / 0.5

train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [  # timm's eval transform: crop_pct 0.9, bicubic
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='ResizeEdge', scale=248, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
auto_scale_lr = dict(base_batch_size=4096)  # 64 GPUs x 64 images
randomness = dict(seed=0, diff_rank_seed=True, deterministic=False)  # the seed of the control and DenoiseRep runs
