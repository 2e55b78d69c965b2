# TransReID-SSL ViT-B/16 on Market-1501, control: the extra training of the DenoiseRep run, without denoising.
# Recipe: project recipe (the authors published DenoiseRep code for TransReID-SSL ViT-S only, none for ViT-B). From
# the trained baseline (no official checkpoint): 20 epochs (two phases of K = 10, the authors' K), SGD (momentum 0.9,
# wd 1e-4, bias lr x2) at 1/10 of the baseline's LR, 8e-4, cosine-annealed per epoch over the 20 epochs to 0; global
# batch 64 = 16 identities x 4 images on any number of GPUs (the baseline's); seed 1234 (the baseline's,
# TransReID-SSL's SOLVER.SEED); AMP (the baseline's); validation at the end.
# Denoisers (none here; the keys are kept so that the DenoiseRep config differs from this one only by the method):
# every denoiser Parameter trains at lr 8e-4 x denoiser_lr_mult 1250 = 1.0 (SGD) at the start, under the same
# per-epoch cosine, without weight decay.
_base_ = './transreid_ssl_vit_b_market1501.py'

train_cfg = dict(max_epochs=20, val_interval=20)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=20, by_epoch=True, begin=0, end=20)]
default_hooks = dict(checkpoint=dict(interval=20))
auto_scale_lr = dict(base_batch_size=64)  # global batch (IdentityBatchSampler): 16 identities x 4
randomness = dict(seed=1234, deterministic=False)  # the baseline's
optim_wrapper = dict(
    optimizer=dict(lr=8e-4),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(denoiser_lr_mult=1250, custom_keys={  # merged with the baseline's keys
        '.denoiser.': dict(decay_mult=0.0)}))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'work_dirs/transreid_ssl_vit_b_market1501/epoch_120.pth'  # no official checkpoint
