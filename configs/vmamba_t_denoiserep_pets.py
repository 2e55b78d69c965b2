# DenoiseRep on VMamba-T fine-tuned on Oxford-IIIT Pet: the control config plus the method (its backbone wrapped,
# the DenoiseRep hook). Paper: the seeds give no figure for this dataset.
# Recipe: project recipe (the authors published no DenoiseRep code for fine-grained classification), the
# ViT-B/16 fine-grained rows' (vit_b16_denoiserep_cub.py) point by point. Training: the control's.
# Layers: preset 'all', the vmamba_t_denoiserep_in1k row's (every embedding layer of VMamba: patch embedding
# and downsampling convs; in each VSS block in_proj, the depthwise conv, x_proj_weight and dt_projs_weight (the
# weight-read path), out_proj, MLP fc1/fc2).
# lambda 0.01, the authors' classification weight. Phases: 10 epochs of denoise, then 10 of finetune (interval
# 10, offset 0, by epoch), denoise first; the paper's loss over every position (loss_positions 1.0). Denoisers:
# lr 1e-3 x denoiser_lr_mult 10000 = 10 (SGD) at the start, under the same per-epoch cosine, no weight decay
# (the control's keys).
# Summed denoiser LR over the denoise phase: 4.9e3 (10 x 8.43 epoch-equivalents of the cosine x 58 iterations
# per epoch: 3,680 trainval images / 64 = 58, total batch 8 GPUs x 8).
# Why this denoiser LR (SGD): a step is lr x gradient, and a denoiser entry's noise-loss gradient is only about
# lambda x 2.8 s / C (~1e-6; s = 0.01-0.1 the layer's noise level, C its in_channels), so the denoisers train at
# lambda x lr = 0.1 (stable under momentum 0.9 for layer inputs of mean square up to ~19; a dead channel's
# coefficient then grows by ~2.8 s / C per iteration towards its useful 1/s, method.md section 7), and
# undecayed: SGD's coupled weight decay would stop a coefficient near lambda x 2.8 s / (C x wd) whatever the LR
# (0.5 at lambda 0.1, s 0.05, C 256, wd 1e-4), far below 1/s.
# That bound is assumed, not measured: VMamba's blocks are pre-norm, but x_proj, dt_projs and out_proj read
# SS2D's inner features (the SiLU of the depthwise conv, the x_proj output, the out_norm output) (the hook logs
# each layer's learned fraction; a non-finite loss stops the run).
_base_ = './vmamba_t_control_pets.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='all',
        example_input_shape=(1, 3, 384, 384)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.01, phases=('denoise', 'finetune'),
         interval=10, offset=0, by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
