# LeNet-5 on Fashion-MNIST, control: the extra training of the DenoiseRep run, without denoising.
# Recipe: project recipe (the authors published no DenoiseRep code for LeNet-5: this is the project's CPU experiment,
# tools/experiments/fashion_mnist.py). From the trained baseline: 2 epochs (two phases of 1), SGD (momentum 0.9, wd
# 1e-4) at 1/10 of the baseline's LR, 1e-3, constant; total batch 128 = 1 GPU (or the CPU) x 128; seed 0 (the
# experiment script sets its own, the same for this and the DenoiseRep run, hence the same data order); fp32.
# Denoisers (none here; the keys are kept so that the DenoiseRep config differs from this one only by the method):
# every denoiser Parameter trains at lr 1e-3 x denoiser_lr_mult 10000 = 10 (SGD), constant, without weight decay.
_base_ = './lenet5_fashion_mnist.py'

train_cfg = dict(max_epochs=2, val_interval=2)
param_scheduler = []
default_hooks = dict(checkpoint=dict(interval=2))
auto_scale_lr = dict(base_batch_size=128)  # 1 GPU x 128 images
randomness = dict(seed=0, deterministic=False)
optim_wrapper = dict(
    optimizer=dict(lr=0.001),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(denoiser_lr_mult=10000, custom_keys={'.denoiser.': dict(decay_mult=0.0)}))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'work_dirs/lenet5_fashion_mnist/epoch_5.pth'  # tools/experiments/fashion_mnist.py sets its own
