# ViT-B/16 fine-tuned on Flowers-102, control: the extra training of the DenoiseRep run, without denoising.
# Extra schedule (classification): two phases of K = 10 epochs (the authors' K) from the trained baseline,
# at 1/10 of the baseline's LR (SGD 0.01 -> 1e-3), cosine-annealed over the 20 epochs.
_base_ = './vit_b16_flowers102.py'

train_cfg = dict(max_epochs=20)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=20, by_epoch=True, begin=0, end=20)]
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'work_dirs/vit_b16_flowers102/epoch_100.pth'  # no official checkpoint
