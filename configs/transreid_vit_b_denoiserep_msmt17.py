# DenoiseRep on the TransReID ViT-B/16 baseline (ViT-BoT) on MSMT17: the control config plus the method (its
# backbone wrapped, the DenoiseRep hook). Recipe: project recipe: the authors published no DenoiseRep code for
# TransReID; their ViT-B re-id stage (RG12138/DenoiseRep Person-ReID/TransReID-SSL/transreid_pytorch
# configs/msmt17/vit_base_ics_384.yml, train.py, processor/processor.py, denoiserep_op) carried over key by key: the
# Linear layers of the MLP blocks (convert_vit_denoise_linear: fc1/fc2 of the 12 blocks, 24 layers; preset 'authors'),
# lambda 0.1 (MODEL.DIFFUSION_LOSS_WEIGHT), the paper's loss over every position, phases of 10 epochs (TRAIN.FT_EPOCH)
# starting with denoise and switching at epochs 10, 20, ... counted from 1 (offset=1: the first denoise phase is 9
# epochs, then finetune 10-19, denoise 20-29, ...; 6 finetune phases in 120 epochs), denoiser lr x4 (the control's
# denoiser_lr_mult). Summed denoiser LR over the 60 denoise-phase epochs: 1.01e-2 x iterations per epoch.
# Not copied from the authors' code (method.md sections 4-5): the random term and in-place refusion of their
# fuse_parameters at every evaluation and checkpoint; the momentum and weight decay that their SGD (torch 1.7,
# zero_grad keeps zero-filled gradients) keeps applying to frozen parameters; BNNeck running statistics updated in the
# denoise phase; their per-module restart of the step numbering (here global, t = 24 .. 1).
_base_ = './transreid_vit_b_control_msmt17.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='authors',
        example_input_shape=(1, 3, 256, 128)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'), interval=10, offset=1,
         by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
