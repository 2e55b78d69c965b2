# FCN R50-D8 80k on ADE20K, control: the extra training of the DenoiseRep run, without denoising.
# Recipe: project recipe (the authors published no DenoiseRep code for segmentation). From the official 80k
# checkpoint: 16,000 iterations (two phases of 8,000), SGD (momentum 0.9, wd 5e-4) with PolyLR restarted at 1/10 of
# the baseline's LR (1e-3 down to 1e-4, power 0.9); total batch 16 = 4 GPUs x 4; seed 0; fp32 (no AMP); validation and
# a checkpoint at the end of each phase.
# Denoisers (none here; the keys are kept so that the DenoiseRep config differs from this one only by the method):
# every denoiser Parameter trains at lr 1e-3 x denoiser_lr_mult 1000 = 1.0 (SGD) at the start, under the same PolyLR
# (to 0.54 at the end of the denoise phase: eta_min 1e-4 is absolute), without weight decay.
_base_ = './fcn_r50_ade20k.py'

train_cfg = dict(max_iters=16000, val_interval=8000)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=16000, by_epoch=False)]
auto_scale_lr = dict(base_batch_size=16)  # 4 GPUs x 4 images
randomness = dict(seed=0, deterministic=False)
optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(denoiser_lr_mult=1000, custom_keys={'.denoiser.': dict(decay_mult=0.0)}))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmsegmentation/v0.5/fcn/fcn_r50-d8_512x512_80k_ade20k/fcn_r50-d8_512x512_80k_ade20k_20200614_144016-f8ac5082.pth'  # noqa: E501
