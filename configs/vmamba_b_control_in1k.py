# VMamba-B, ImageNet-1k, control: the extra training of the DenoiseRep run, without denoising.
# Recipe: project recipe (the authors published no DenoiseRep code for VMamba): their ImageNet DenoiseRep recipe for
# SwinV2, authors' code RG12138/DenoiseRep Classification/imagenet/Swin-Transformer (config.py, main.py, optimizer.py,
# lr_scheduler.py), whose base recipe is the one VMamba was trained with (VMamba's classification/config.py is Swin's):
# from the official checkpoint, 120 epochs, total batch 256 = 2 GPUs x 128, AdamW (eps 1e-8, betas 0.9/0.999) at 5e-5
# per 512 images (2.5e-5), weight decay 0.05 except 1-D parameters and biases (VMamba's set_weight_decay: its
# no_weight_decay() names only pos_embed, which VMamba has not), grad-norm clip 5, AMP, 20 warm-up epochs from 5e-7
# per 512, then cosine to 5e-6 per 512 (timm CosineLRScheduler, warmup_prefix, stepped per iteration), seed 0 + rank.
# Data, Mixup / CutMix, label smoothing: the baseline's. The official weights are the raw ones (the converter's
# default; --ema takes the EMA).
# Denoisers (none here; the keys are kept so that the DenoiseRep config differs from this one only by the method):
# every denoiser Parameter trains at lr 2.5e-5 x denoiser_lr_mult 5 = 1.25e-4 (AdamW) at the peak, under the same
# schedule, without weight decay (the project's rule for Adam-family rows, as the ViT ImageNet rows; the authors'
# x1 sums to 4.05 over the denoise phases, see the DenoiseRep config).
_base_ = './vmamba_b_in1k.py'

train_dataloader = dict(batch_size=128)  # per GPU, 2 GPUs: 256 in all
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=5e-5 * 256 / 512, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    clip_grad=dict(max_norm=5.0),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0, denoiser_lr_mult=5.0,
                       custom_keys={'.denoiser.': dict(decay_mult=0.0)}))
param_scheduler = [  # the authors' lr_scheduler.py: timm's CosineLRScheduler, warmup_prefix, per iteration
    dict(type='mmdenoiserep.TimmCosineLR', t_initial=120, warmup_t=20, warmup_lr_init=5e-7 * 256 / 512,
         lr_min=5e-6 * 256 / 512, warmup_prefix=True, by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=256)
randomness = dict(seed=0, diff_rank_seed=True, deterministic=False)  # the authors' main.py: SEED + rank
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=1)
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'pretrain/vmamba_base_in1k.pth'  # the official weights, converted (see the baseline config)
