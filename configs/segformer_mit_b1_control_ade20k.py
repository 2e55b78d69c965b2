# SegFormer MiT-b1 160k on ADE20K, control: the extra training of the DenoiseRep run, without denoising.
# Extra schedule (segmentation, iteration-based): two phases of 8k iterations (16k in all) from the
# official checkpoint; PolyLR restarted at 1/10 of the baseline's LR (AdamW 6e-6 down to 0, power 1.0, no warm-up);
# validation and a checkpoint at the end of each phase.
_base_ = './segformer_mit_b1_ade20k.py'

train_cfg = dict(max_iters=16000, val_interval=8000)
optim_wrapper = dict(optimizer=dict(lr=6e-6))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=1.0, begin=0, end=16000, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=8000))  # the stock config saves every 16k iterations
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmsegmentation/v0.5/segformer/segformer_mit-b1_512x512_160k_ade20k/segformer_mit-b1_512x512_160k_ade20k_20210726_112106-d70e859d.pth'  # noqa: E501
