# ResNet-50, ImageNet-1k, control: the extra training of the DenoiseRep run, without denoising.
# Extra schedule (classification): two phases of K = 10 epochs (the authors' K) from the official checkpoint,
# at 1/10 of the baseline's LR (SGD 0.1 -> 0.01), cosine-annealed over the 20 epochs.
_base_ = './resnet50_in1k.py'

train_cfg = dict(max_epochs=20)
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=20, by_epoch=True, begin=0, end=20)]
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth'  # noqa: E501
