# LeNet-5 on Fashion-MNIST: the real-data experiment that runs on a CPU (tools/experiments/fashion_mnist.py).
# mmpretrain's stock LeNet-5 MNIST config on Fashion-MNIST (60k train / 10k test, 28x28 grey images resized to
# 32x32): its model, pipeline, SGD 0.01 and 5 epochs; only the dataset, its pixel statistics and the
# validation interval change. The data are prepared from the Debian package dataset-fashion-mnist by
# the experiment script (mmpretrain's FashionMNIST would try to download them).
# Trained on 1 GPU (or the CPU) x 128 images: total batch 128 (mmpretrain's LeNet-5 config); seed 0 here, the
# experiment script sets its own; fp32.
_base_ = ['mmpretrain::lenet/lenet5_mnist.py', './_base_/denoiserep_runtime.py']

data_preprocessor = dict(mean=[72.94], std=[90.02])  # Fashion-MNIST train pixels
common = dict(type='FashionMNIST', data_prefix='data/fashion_mnist', download=False)
train_dataloader = dict(dataset=dict(**common, test_mode=False))
val_dataloader = dict(dataset=dict(**common, test_mode=True))
test_dataloader = val_dataloader
train_cfg = dict(val_interval=5)  # validate once, at the end
default_hooks = _base_.denoiserep_default_hooks  # atomic checkpoints, reseeding, checkpoint checks
default_hooks.checkpoint.update(interval=5)
auto_scale_lr = dict(base_batch_size=128)  # 1 GPU x 128 images
randomness = dict(seed=0, deterministic=False)
