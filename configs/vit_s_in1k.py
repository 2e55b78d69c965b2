# ViT-S/16 (AugReg, 384px, 22.2M) on ImageNet-1k: the DenoiseRep baseline. Thin file: mmpretrain has no config
# or checkpoint for these weights.
# Paper (slides' classification table): acc@1 83.87 -> 84.02, acc@5 96.73 -> 96.86 with DenoiseRep.
# Known gap: no public ViT-S checkpoint reports 83.87 / 96.73. The nearest acc@1 is timm's AugReg ViT-S/16
# (Steiner et al., "How to train your ViT?"; ImageNet-21k pre-trained, ImageNet-1k fine-tuned at 384px;
# vit_small_patch16_384.augreg_in21k_ft_in1k, original
# S_16-i21k-300ep-lr_0.001-aug_light1-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_384.npz):
# 83.80 / 97.10 in timm's results/results-imagenet.csv (its 2022-12 version 83.802 / 97.102; now 83.814 / 97.106),
# -0.07 acc@1 and +0.37 acc@5 from the paper's (the paper's acc@5 is below every ViT-S of timm near 83.8 acc@1;
# timm's AugReg ViT-S/16 224px: 81.40 / 96.15; mmpretrain's DeiT III ViT-S/16 384px: 83.43 / 96.68).
# Model: mmpretrain's VisionTransformer with arch 'deit-small' (ViT-S/16: 384 channels, 12 blocks, 6 heads; its
# arch 's' is another, 768-wide model), class token, final norm, VisionTransformerClsHead without hidden layer,
# at 384px: timm's model under other tensor names.
# Test transform: timm's for these weights (pretrained_cfg: input 384, crop_pct 1.0, bicubic, mean = std = 0.5):
# PIL decode, short side to 384 (PIL bicubic), center crop 384, (x - 127.5) / 127.5.
# To evaluate the baseline (safetensors is not installed here: take pytorch_model.bin):
#   wget https://huggingface.co/timm/vit_small_patch16_384.augreg_in21k_ft_in1k/resolve/main/pytorch_model.bin
#   python tools/model_converters/timm_vit_to_mmpretrain.py pytorch_model.bin \
#       pretrain/vit_small_p16_augreg_in21k_ft_in1k_384.pth
#   python tools/test.py configs/vit_s_in1k.py pretrain/vit_small_p16_augreg_in21k_ft_in1k_384.pth
# Training settings (only the control and DenoiseRep runs train, from these weights): RandomResizedCrop 384
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
    backbone=dict(arch='deit-small', img_size=384, drop_rate=0.0, drop_path_rate=0.0),  # ViT-S/16
    head=dict(in_channels=384, loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))
data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])  # timm's 0.5 / 0.5

train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='RandomResizedCrop', scale=384, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [  # timm's eval transform: crop_pct 1.0, bicubic
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='ResizeEdge', scale=384, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=384),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
auto_scale_lr = dict(base_batch_size=4096)  # 64 GPUs x 64 images
randomness = dict(seed=0, diff_rank_seed=True, deterministic=False)  # the seed of the control and DenoiseRep runs
