# VMamba-T fine-tuned on Flowers-102, control: the extra training of the DenoiseRep run, without denoising.
# Recipe: project recipe (the authors published no DenoiseRep code for fine-grained classification), the
# ViT-B/16 fine-grained rows' (vit_b16_control_cub.py) point by point.
# From the trained baseline (no official checkpoint): 20 epochs (two phases of K = 10, the authors' K), SGD
# (momentum 0.9, Nesterov, wd 5e-4) at 1/10 of the baseline's LR, 1e-3, cosine-annealed per epoch over the 20
# epochs to 0; total batch 64 = 8 GPUs x 8; seed 0; fp32 (no AMP).
# Denoisers (none here; the keys are kept so that the DenoiseRep config differs from this one only by the method):
# every denoiser Parameter trains at lr 1e-3 x denoiser_lr_mult 10000 = 10 (SGD) at the start, under the same
# per-epoch cosine, without weight decay.
_base_ = './vmamba_t_flowers102.py'

train_cfg = dict(max_epochs=20)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=20, by_epoch=True, begin=0, end=20)]
auto_scale_lr = dict(base_batch_size=64)  # 8 GPUs x 8 images
randomness = dict(seed=0, deterministic=False)
optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(denoiser_lr_mult=10000, custom_keys={'.denoiser.': dict(decay_mult=0.0)}))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'work_dirs/vmamba_t_flowers102/epoch_100.pth'  # the trained baseline (no official checkpoint)
