# DenoiseRep on LeNet-5 on Fashion-MNIST: the control config plus the method (its backbone wrapped, the DenoiseRep
# hook).
# Recipe: project recipe (the authors published no DenoiseRep code for LeNet-5: this is the project's CPU experiment,
# tools/experiments/fashion_mnist.py). Training: the control's.
# Layers: preset 'all' (every embedding layer: the authors never converted LeNet-5, so no 'authors' preset exists for
# it; 3 Conv2d + 2 Linear = 5 layers). lambda 0.01, the authors' classification weight. Phases: 1 epoch of denoise,
# then 1 of finetune (interval 1, offset 0, by epoch), denoise first; the paper's loss over every position
# (loss_positions 1.0). Denoisers: lr 1e-3 x denoiser_lr_mult 10000 = 10 (SGD), constant, no weight decay (the
# control's keys).
# Summed denoiser LR over the denoise phase: 4.7e3 (10 x 469 iterations: 60,000 images / 128).
# Why this denoiser LR (SGD): a step is lr x gradient, and a denoiser entry's noise-loss gradient is only about lambda
# x 2.8 s / C (~1e-6; s = 0.01-0.1 the layer's noise level, C its in_channels), so the denoisers train at lambda x lr
# = 0.1 (stable under momentum 0.9 for layer inputs of mean square up to ~19; a dead channel's coefficient then grows
# by ~2.8 s / C per iteration towards its useful 1/s, method.md section 7), and undecayed: SGD's coupled weight decay
# would stop a coefficient near lambda x 2.8 s / (C x wd) whatever the LR (0.5 at lambda 0.1, s 0.05, C 256, wd 1e-4),
# far below 1/s.
_base_ = './lenet5_control_fashion_mnist.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='all',
        example_input_shape=(2, 1, 32, 32)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.01, phases=('denoise', 'finetune'),
         interval=1, offset=0, by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
