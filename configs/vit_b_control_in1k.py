# ViT-B/16 (AugReg, 224px), ImageNet-1k, control: the extra training of the DenoiseRep run, without denoising.
# Recipe: project recipe (the authors published DenoiseRep code for ImageNet only for SwinV2; their stage,
# RG12138/DenoiseRep Classification/imagenet/Swin-Transformer config.py, main.py, optimizer.py, lr_scheduler.py, is
# carried over to ViT key by key, as the SwinV2 rows run it): from the baseline's AugReg weights (timm's 84.53,
# converted: see vit_b_in1k.py), 120 epochs (TRAIN.EPOCHS), total batch 256 = 2 GPUs x 128 (their README's command),
# AdamW (eps 1e-8, betas 0.9/0.999) at 5e-5 per 512 images (main.py's linear scaling: 2.5e-5), weight decay 0.05 except
# 1-D parameters, biases, pos_embed and cls_token (set_weight_decay with timm ViT's no_weight_decay()), grad-norm clip 5
# (TRAIN.CLIP_GRAD), AMP, 20 warm-up epochs from 5e-7 per 512, then cosine to 5e-6 per 512 (timm CosineLRScheduler,
# warmup_prefix, stepped per iteration), seed 0 + rank (SEED, main.py). Data, Mixup 0.8 / CutMix 1.0 and label smoothing
# 0.1: the baseline's (vit_b_in1k.py; no RandAugment or random erasing).
# Denoisers (none here; the keys are kept so that the DenoiseRep config differs from this one only by the method):
# every denoiser Parameter trains at lr 2.5e-5 x denoiser_lr_mult 5 = 1.25e-4 (AdamW) at the peak, under the same
# schedule, without weight decay (the project's rule; the authors' x1 sums to 4.05 over the denoise phases, see the
# DenoiseRep config).
_base_ = './vit_b_in1k.py'

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
        denoiser_lr_mult=5.0,
        custom_keys={
            '.pos_embed': dict(decay_mult=0.0),
            '.cls_token': dict(decay_mult=0.0),
            '.denoiser.': dict(decay_mult=0.0),
        }))
param_scheduler = [  # lr_scheduler.py: timm's CosineLRScheduler, warmup_prefix, per iteration (WARMUP_LR, MIN_LR)
    dict(type='mmdenoiserep.TimmCosineLR', t_initial=120, warmup_t=20, warmup_lr_init=5e-7 * 256 / 512,
         lr_min=5e-6 * 256 / 512, warmup_prefix=True, by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=256)
randomness = dict(seed=0, diff_rank_seed=True, deterministic=False)  # main.py: SEED + rank
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=1)
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'pretrain/vit_base_p16_augreg_in21k_ft_in1k_224.pth'  # timm's AugReg weights, converted (vit_b_in1k.py)
