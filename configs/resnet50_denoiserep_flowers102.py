# DenoiseRep on ResNet-50 fine-tuned on Flowers-102: the control config plus the method (its backbone wrapped,
# the DenoiseRep hook). Paper: method.md section 6 gives no figure for this dataset.
# Recipe: project recipe (the authors published no DenoiseRep code for fine-grained classification), the
# ViT-B/16 fine-grained rows' (vit_b16_denoiserep_cub.py) point by point. Training: the control's.
# Layers: preset 'authors', the resnet50_denoiserep_in1k row's (the authors' CNN rule, denoiserep_op
# convert_denoise_conv2d: every Conv2d with an odd kernel; ResNet-50: the 7x7 stem, the 1x1 and 3x3 convs of the 16
# bottlenecks and the 4 downsample convs, 53 layers; preset 'all' selects the same 53). lambda 0.01, the authors'
# classification weight. Phases: 10 epochs of denoise, then 10 of finetune (interval 10, offset 0, by epoch),
# denoise first; the paper's loss over every position (loss_positions 1.0). Denoisers: lr 1e-3 x
# denoiser_lr_mult 10000 = 10 (SGD) at the start, under the same per-epoch cosine, no weight decay (the
# control's keys).
# Summed denoiser LR over the denoise phase: 2.7e3 (10 x 8.43 epoch-equivalents of the cosine x 32 iterations
# per epoch: 2,040 trainval images / 64 = 32, total batch 8 GPUs x 8).
# Why this denoiser LR (SGD): a step is lr x gradient, and a denoiser entry's noise-loss gradient is only about
# lambda x 2.8 s / C (~1e-6; s = 0.01-0.1 the layer's noise level, C its in_channels), so the denoisers train at
# lambda x lr = 0.1 (stable under momentum 0.9 for layer inputs of mean square up to ~19; a dead channel's
# coefficient then grows by ~2.8 s / C per iteration towards its useful 1/s, method.md section 7), and
# undecayed: SGD's coupled weight decay would stop a coefficient near lambda x 2.8 s / (C x wd) whatever the LR
# (0.5 at lambda 0.1, s 0.05, C 256, wd 1e-4), far below 1/s.
# That bound is assumed, not measured: the inputs of each bottleneck's conv1 and downsample conv are the
# residual stream, not batch-normalised (the hook logs each layer's learned fraction; a non-finite loss stops
# the run).
_base_ = './resnet50_control_flowers102.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='authors',
        example_input_shape=(1, 3, 448, 448)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.01, phases=('denoise', 'finetune'),
         interval=10, offset=0, by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
