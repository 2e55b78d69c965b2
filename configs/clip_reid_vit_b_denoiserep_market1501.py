# DenoiseRep on CLIP-ReID ViT-B/16 (SIE + OLP) on Market-1501: the control config plus the method (the image
# encoder wrapped, the DenoiseRep hook). Recipe: project recipe: the authors published no CLIP-ReID DenoiseRep code;
# their re-id DenoiseRep stage (RG12138/DenoiseRep Person-ReID/TransReID-SSL/transreid_pytorch, as
# configs/transreid_ssl_vit_s_denoiserep_market1501.py carries it) on CLIP-ReID's stage 2 (the control's header):
# lambda 0.1 (MODEL.DIFFUSION_LOSS_WEIGHT), the paper's loss over every position, phases of 10 epochs starting with
# denoise and switching at epochs 10, 20, ... counted from 1 (offset=1: denoise 1-9, finetune 10-19, denoise 20-29,
# ...; 6 finetune phases in 120 epochs, epoch 120 denoises, as the authors' loop). Layers: every embedding layer of
# the image encoder (preset 'all', the project's rule where the authors converted nothing: conv1, and per block
# attn.in_proj, attn.out_proj (nn.MultiheadAttention's weights, through the weight reader), mlp.c_fc, mlp.c_proj:
# 49 layers; proj, a bare Parameter applied as x @ proj, stays); the text encoder and prompts stay frozen and plain.
# Denoiser LR: 1.25e-6 x denoiser_lr_mult 4000 = 5e-3 (Adam) at the peak, under the control's schedule, no weight
# decay. Summed denoiser LR over the 60 denoise-phase epochs: 5e-3 x 27.06 epoch-equivalents of the schedule (the
# warm-up 4.95, 10 + 10 at x1, 1 + 1 at x0.1, 0.1 + 0.01 at x0.01) = 0.135 x iterations per epoch (about 100 at
# 128 images: 12,936 / 128) = 13.7.
# Not copied from the authors' TransReID-SSL code (method.md sections 4-5): the random term and in-place refusion
# of their fuse_parameters; momentum and weight decay on frozen parameters; BNNeck running statistics updated in
# the denoise phase; their per-module restart of the step numbering (here global, t = 49 .. 1).
_base_ = './clip_reid_vit_b_control_market1501.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='all',
        example_input_shape=(1, 3, 256, 128)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'), interval=10, offset=1,
         by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
