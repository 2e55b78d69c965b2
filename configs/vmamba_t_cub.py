# VMamba-T fine-tuned on CUB-200-2011: the DenoiseRep baseline. Thin file: no toolbox has VMamba (the backbone is
# mmdenoiserep.VMamba). As the SwinV2-T and ViT-B/16 rows (swinv2_t_cub.py, vit_b16_cub.py): VMamba-T (the
# vmamba_t_in1k row's, VMamba-T[s1l8], drop path 0.2) initialised from the official ImageNet-1k checkpoint
# (vssm1_tiny_0230s, 82.6 acc@1, converted: see configs/vmamba_t_in1k.py), mmpretrain's CUB data config (resize to
# 510, crop 384) and CUB fine-tuning schedule (SGD 0.01 with Nesterov, wd 5e-4 on every parameter, 5 warm-up epochs
# then cosine, 100 epochs). VMamba has no position embedding: 384px needs no change of the model.
# Head: GlobalAveragePooling + LinearClsHead with label smoothing 0.1, as the ImageNet model; no Mixup / CutMix, as
# in every mmpretrain CUB config (and the SwinV2-T / ViT-B rows).
# Paper: DenoiseRep reports CUB-200 for VMamba-T, but the seeds give no figure.
# Trained on 8 GPUs x 8 images (cub_bs8_384's per-GPU batch): total batch 64, the batch of the cub_bs64 schedule's
# LR; seed 0; fp32.
_base_ = [
    'mmpretrain::_base_/datasets/cub_bs8_384.py',
    'mmpretrain::_base_/schedules/cub_bs64.py',
    'mmpretrain::_base_/default_runtime.py',
    './_base_/denoiserep_runtime.py',
]
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

pretrained = 'pretrain/vmamba_tiny_in1k.pth'  # tools/model_converters/vmamba_to_mmpretrain.py (vmamba_t_in1k.py)
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmdenoiserep.VMamba',
        arch='tiny',
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=200,
        in_channels=768,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')))
auto_scale_lr = dict(base_batch_size=64)  # 8 GPUs x 8 images
randomness = dict(seed=0, deterministic=False)
