# SegFormer MiT-b1 160k on ADE20K, control: the extra training of the DenoiseRep run, without denoising.
# Recipe: project recipe (the authors published no DenoiseRep code for segmentation). From the official 160k
# checkpoint: 16,000 iterations (two phases of 8,000), AdamW (wd 0.01, norms and pos_block undecayed, head lr x10)
# with PolyLR restarted at 1/10 of the baseline's LR (6e-6 down to 0, power 1.0, no warm-up); total batch 16 = 8 GPUs
# x 2; seed 0; fp32 (no AMP); validation and a checkpoint at the end of each phase.
# Denoisers (none here; the keys are kept so that the DenoiseRep config differs from this one only by the method):
# every denoiser Parameter trains at lr 6e-6 x denoiser_lr_mult 500 = 3e-3 (AdamW) at the start, under the same PolyLR
# (to 1.5e-3 at the end of the denoise phase), without weight decay.
_base_ = './segformer_mit_b1_ade20k.py'

train_cfg = dict(max_iters=16000, val_interval=8000)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=1.0, begin=0, end=16000, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=8000))  # the stock config saves every 16k iterations
auto_scale_lr = dict(base_batch_size=16)  # 8 GPUs x 2 images
randomness = dict(seed=0, deterministic=False)
optim_wrapper = dict(
    optimizer=dict(lr=6e-6),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(denoiser_lr_mult=500, custom_keys={'.denoiser.': dict(decay_mult=0.0)}))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmsegmentation/v0.5/segformer/segformer_mit-b1_512x512_160k_ade20k/segformer_mit-b1_512x512_160k_ade20k_20210726_112106-d70e859d.pth'  # noqa: E501
