# VMamba-T on ImageNet-1k: the DenoiseRep baseline. Thin file: no OpenMMLab toolbox has VMamba; the backbone is
# mmdenoiserep.VMamba (mmdenoiserep/models/vmamba.py), the official VMamba (github.com/MzeroMiko/VMamba) in
# mmpretrain's form. Which VMamba: the paper's VMamba rows give 30M / 50M / 89M parameters, VMamba's published
# T / S / B (assets/performance.md): T = VMamba-T[s1l8] (classification/configs/vssm/vmambav2v_tiny_224.yaml,
# vssm1_tiny_0230s, 30M, 82.6 acc@1), S and B = VMamba-S/B[s2l15] (vmambav2_{small,base}_224.yaml, 50M / 89M, 83.6 /
# 83.9). Paper: acc@1 82.38 -> 82.51, acc@5 95.80 -> 95.89. Known gap: 82.38 is 0.2 below the official 82.6, and no
# VMamba release reports 82.38 (Vanilla-VMamba-T 82.2 has 23M parameters); the official figure is of a run with an
# EMA of the weights (its checkpoint holds both `model` and `model_ema`).
# Training (the official one, not run here: the control starts from the official checkpoint): the Swin recipe of
# VMamba's classification/config.py, as mmpretrain's Swin configs port it: 300 epochs, AdamW 5e-4 per 512 images
# (1e-3 at 8 GPUs x 128 = 1024), weight decay 0.05 except 1-D parameters and biases, grad-norm clip 5 (VMamba's
# TRAIN.CLIP_GRAD), 20 warm-up epochs, cosine, label smoothing 0.1, Mixup 0.8 / CutMix 1.0, RandAugment, random
# erasing 0.25, 224px (resize 256 bicubic + center crop 224 at test), drop path 0.2 (the yaml), seed 0 (SEED).
# The official run's EMA of the weights (MODEL_EMA, decay 0.9999) is not in this config.
# Evaluate the official weights:
#   wget https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/vssm1_tiny_0230s_ckpt_epoch_264.pth
#   python tools/model_converters/vmamba_to_mmpretrain.py vssm1_tiny_0230s_ckpt_epoch_264.pth \
#       pretrain/vmamba_tiny_in1k.pth --arch tiny
#   python tools/test.py configs/vmamba_t_in1k.py pretrain/vmamba_tiny_in1k.pth
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
    './_base_/denoiserep_runtime.py',
]
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmdenoiserep.VMamba', arch='tiny', drop_path_rate=0.2),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        init_cfg=None,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        cal_acc=False),
    init_cfg=[
        dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
        dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
    ],
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))
train_dataloader = dict(batch_size=128)  # per GPU, 8 GPUs: 1024 in all (VMamba's DATA.BATCH_SIZE 128)
optim_wrapper = dict(clip_grad=dict(max_norm=5.0))
auto_scale_lr = dict(base_batch_size=1024)
randomness = dict(seed=0, deterministic=False)  # VMamba's SEED 0
