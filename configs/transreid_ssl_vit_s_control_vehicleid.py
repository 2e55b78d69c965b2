# ViT-S/16 on VehicleID, control: the extra training of the DenoiseRep run, without denoising.
# Extra schedule (re-id): two phases of K = 10 epochs from the trained baseline, at 1/10 of the baseline's LR
# (SGD 4e-4 -> 4e-5), cosine-annealed over the 20 epochs; validation at the end.
_base_ = './transreid_ssl_vit_s_vehicleid.py'

train_cfg = dict(max_epochs=20, val_interval=20)
optim_wrapper = dict(optimizer=dict(lr=4e-5))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=20, by_epoch=True, begin=0, end=20)]
default_hooks = dict(checkpoint=dict(interval=20))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'work_dirs/transreid_ssl_vit_s_vehicleid/epoch_120.pth'  # no official checkpoint
