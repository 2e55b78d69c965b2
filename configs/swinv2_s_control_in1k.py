# SwinV2-S (window 8, 256px), ImageNet-1k, control: the DenoiseRep stage of the authors, without denoising.
# Recipe: authors' code RG12138/DenoiseRep Classification/imagenet/Swin-Transformer (config.py, main.py,
# optimizer.py, lr_scheduler.py, configs/swinv2/swinv2_small_patch4_window8_256.yaml), point by point: from the official
# checkpoint (--pretrained), 120 epochs (TRAIN.EPOCHS), total batch 256 = 2 GPUs x 128 (the README's command;
# the name's 2xb128), AdamW (eps 1e-8, betas 0.9/0.999) at 5e-5 per 512 images (main.py's linear scaling:
# 2.5e-5), weight decay 0.05 except 1-D parameters, biases, absolute_pos_embed, cpb_mlp and logit_scale
# (set_weight_decay with the model's no_weight_decay(_keywords)), grad-norm clip 5 (TRAIN.CLIP_GRAD), AMP
# (AMP_ENABLE), 20 warm-up epochs from 5e-7 per 512, then cosine to 5e-6 per 512 (timm CosineLRScheduler,
# warmup_prefix, stepped per iteration), seed 0 + rank (SEED, main.py), denoiser lr x1 (optimizer.py has no
# rule for them; the key is kept so that the DenoiseRep config differs only by the method). Data, Mixup 0.8 /
# CutMix 1.0, label smoothing 0.1, RandAugment and random erasing 0.25: the baseline's (mmpretrain's port of
# the same official Swin recipe).
_base_ = './swinv2_s_in1k.py'

train_dataloader = dict(batch_size=128)  # per GPU, 2 GPUs: 256 in all
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=5e-5 * 256 / 512, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    clip_grad=dict(max_norm=5.0),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        flat_decay_mult=0.0,
        denoiser_lr_mult=1.0,
        custom_keys={
            '.absolute_pos_embed': dict(decay_mult=0.0),
            'cpb_mlp': dict(decay_mult=0.0),
            'logit_scale': dict(decay_mult=0.0),
        }))
param_scheduler = [  # lr_scheduler.py: timm's CosineLRScheduler, warmup_prefix, per iteration (WARMUP_LR, MIN_LR)
    dict(type='mmdenoiserep.TimmCosineLR', t_initial=120, warmup_t=20, warmup_lr_init=5e-7 * 256 / 512,
         lr_min=5e-6 * 256 / 512, warmup_prefix=True, by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=256)
randomness = dict(seed=0, diff_rank_seed=True, deterministic=False)  # main.py: SEED + rank
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=1)
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmclassification/v0/swin-v2/swinv2-small-w8_3rdparty_in1k-256px_20220803-b01a4332.pth'  # noqa: E501
