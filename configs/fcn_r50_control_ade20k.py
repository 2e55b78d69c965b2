# FCN R50-D8 80k on ADE20K, control: the extra training of the DenoiseRep run, without denoising.
# Extra schedule (segmentation, iteration-based): two phases of 8k iterations (16k in all) from the
# official checkpoint; PolyLR restarted at 1/10 of the baseline's LR (SGD 1e-3 down to 1e-4, power 0.9);
# validation and a checkpoint at the end of each phase.
_base_ = './fcn_r50_ade20k.py'

train_cfg = dict(max_iters=16000, val_interval=8000)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=16000, by_epoch=False)]
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmsegmentation/v0.5/fcn/fcn_r50-d8_512x512_80k_ade20k/fcn_r50-d8_512x512_80k_ade20k_20200614_144016-f8ac5082.pth'  # noqa: E501
