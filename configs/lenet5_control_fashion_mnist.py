# LeNet-5 on Fashion-MNIST, control: the extra training of the DenoiseRep run (2 epochs from the trained
# baseline at 1/10 of its LR, the same data order for a given seed), without denoising.
_base_ = './lenet5_fashion_mnist.py'

train_cfg = dict(max_epochs=2, val_interval=2)
optim_wrapper = dict(optimizer=dict(lr=0.001))
param_scheduler = []
default_hooks = dict(checkpoint=dict(interval=2))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'work_dirs/lenet5_fashion_mnist/epoch_5.pth'  # tools/experiments/fashion_mnist.py sets its own
