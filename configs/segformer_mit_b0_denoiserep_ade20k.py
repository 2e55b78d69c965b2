# DenoiseRep on SegFormer MiT-b0 160k, ADE20K: the control config plus the method (its backbone wrapped, the
# DenoiseRep hook). Paper (method.md section 6): small gains, no figure.
# Recipe: project recipe (the authors published no DenoiseRep code for segmentation). Training: the control's.
# Layers: preset 'all' (every embedding layer: the authors never converted MiT, so no 'authors' preset exists for it;
# 50 layers). lambda 0.1: the project's choice (no published source for segmentation; the authors use 0.1 for re-id,
# 0.01 for classification). Phases: 8,000 iterations of denoise, then 8,000 of finetune (interval 8000, offset 0, by
# iteration: the IterBasedTrainLoop's count), denoise first; the paper's loss over every position (loss_positions
# 1.0). Denoisers: lr 6e-6 x denoiser_lr_mult 500 = 3e-3 (AdamW) at the start, under the same PolyLR (to 1.5e-3 at the
# end of the denoise phase), no weight decay (the control's keys).
# Summed denoiser LR over the denoise phase: 18 (3e-3 x the PolyLR sum of the 8,000 denoise iterations, 8,000 x 0.75 =
# 6,000; ADE20K: 20,210 training images / 16 = about 1,263 iterations per epoch, so a phase is about 6.3 epochs).
# Why this denoiser LR (AdamW): Adam moves an entry by about lr per step, so the summed LR is about the largest
# coefficient the denoise phase can reach (method.md section 7: useful ones are 10-100, up to 1/sqrt(1 - abar_t));
# undecayed: AdamW's decoupled decay would pull the coefficients back towards 0.
_base_ = './segformer_mit_b0_control_ade20k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='all',
        example_input_shape=(1, 3, 512, 512)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'),
         interval=8000, offset=0, by_epoch=False, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
