# DenoiseRep on Mask R-CNN SwinV2-S, COCO: the control config plus the method (its backbone wrapped, the DenoiseRep
# hook). Paper (the slides' detection table, OCR'd): 48.7 -> 49.0 box AP.
# Recipe: project recipe (the authors published no DenoiseRep code for detection), the Mask R-CNN SwinV2-T row's
# (mask_rcnn_swinv2_t_denoiserep_coco.py) point by point. Training: the control's.
# Layers: preset 'authors' (the Linear layers of the MLP blocks: ffn fc1/fc2 and the continuous position bias cpb_mlp
# of the 24 blocks, 96 layers). lambda 0.1: the project's choice (no published source for detection; the authors use
# 0.1 for re-id, 0.01 for classification). Phases: 3 epochs of denoise, then 3 of finetune (interval 3, offset 0, by
# epoch), denoise first; the paper's loss over every position (loss_positions 1.0). Denoisers: lr 1e-6 x
# denoiser_lr_mult 1000 = 1e-3 (AdamW), constant, no weight decay (the control's keys).
# Summed denoiser LR over the denoise phase: 1e-3 x 3 epochs x 7,330 iterations = 22 (COCO train2017: 117,266 images /
# 16 = about 7,330 iterations per epoch at total batch 16 = 8 GPUs x 2).
# Why this denoiser LR (AdamW): Adam moves an entry by about lr per step, so the summed LR is about the largest
# coefficient the denoise phase can reach (method.md section 7: useful ones are 10-100, up to 1/sqrt(1 - abar_t));
# undecayed: AdamW's decoupled decay would pull the coefficients back towards 0.
_base_ = './mask_rcnn_swinv2_s_control_coco.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='authors',
        example_input_shape=(1, 3, 256, 256)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'),
         interval=3, offset=0, by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
