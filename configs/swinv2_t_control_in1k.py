# SwinV2-T (window 8, 256px), ImageNet-1k, control: the extra training of the DenoiseRep run, without denoising.
# Extra schedule (classification): two phases of K = 10 epochs (the authors' K) from the official checkpoint,
# at 1/10 of the baseline's LR (AdamW 1e-3 -> 1e-4), cosine-annealed over the 20 epochs.
_base_ = './swinv2_t_in1k.py'

train_cfg = dict(max_epochs=20)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=20, by_epoch=True, begin=0, end=20)]
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmclassification/v0/swin-v2/swinv2-tiny-w8_3rdparty_in1k-256px_20220803-e318968f.pth'  # noqa: E501
