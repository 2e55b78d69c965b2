# TransReID-SSL ViT-B/16 on Market-1501, control: the extra training of the DenoiseRep run, without denoising.
# Extra schedule (re-id): two phases of K = 10 epochs from the trained baseline, at 1/10 of the baseline's LR
# (SGD 8e-3 -> 8e-4), cosine-annealed over the 20 epochs; validation at the end.
_base_ = './transreid_ssl_vit_b_market1501.py'

train_cfg = dict(max_epochs=20, val_interval=20)
optim_wrapper = dict(optimizer=dict(lr=8e-4))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=20, by_epoch=True, begin=0, end=20)]
default_hooks = dict(checkpoint=dict(interval=20))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'work_dirs/transreid_ssl_vit_b_market1501/epoch_120.pth'  # no official checkpoint
