# TransReID-SSL ViT-S/16 on CUHK03 (labeled) with one denoising layer after the backbone, kept unfused (the paper's
# "Analysis of Parameter Fusion", its '+DenoiseRep' row at 0.39 s inference, +15%, against DenoiseRep in every layer,
# fused, 0.34 s): the control config plus mmdenoiserep.PostBackboneDenoiser as the neck, x_hat = c3 f - c1 (A f + a) on
# the class-token feature f (N, 384) that the BNNeck head reads (t = 1 of the 1000-step schedule: the only layer of its
# chain), (A, a) trained by the noise-prediction loss on f; the backbone and head are the control's (no per-layer
# denoisers). It stays unfused: no layer consumes x_hat at test time (it is the re-id feature, 'before_bn') and the
# final LayerNorm before it is diagonal (models/post_backbone.py): tools/fuse_ckpt.py refuses this config; test its
# checkpoints with this config (tools/test.py CONFIG CHECKPOINT). Baseline and control: the ViT-S row's.
# Recipe: project recipe: the authors' public code has no post-backbone denoiser (denoiserep_op converts embedding
# layers only); its training is the DenoiseRep row's (the authors' RG12138/DenoiseRep configs/cuhk03/vit_small.yml
# stage): lambda 0.1, the paper's loss over every position, phases of 10 epochs from epoch 1 (offset 1: 60 denoise and
# 60 finetune epochs in 120), SGD 1e-4 with the denoiser at lr x4, timm's cosine over 120 epochs, SOLVER.SEED 1234,
# global batch 128. In the denoise phase DenoiseRepHook runs the full forward (the denoiser is outside model.backbone;
# the head trains nothing there).
# Summed denoiser LR over the denoise phase: 1.01e-2 x iterations per epoch (the DenoiseRep row's).
_base_ = './transreid_ssl_vit_s_control_cuhk03.py'

model = dict(neck=dict(_delete_=True, type='mmdenoiserep.PostBackboneDenoiser', in_channels=384))  # the control: None
train_dataloader = dict(batch_size=128)  # global (IdentityBatchSampler): P = 32 identities x K = 4, any GPU count
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1e-4, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(bias_lr_mult=2.0, denoiser_lr_mult=4.0))
auto_scale_lr = dict(base_batch_size=128)
randomness = dict(seed=1234, deterministic=False)  # defaults.py: SOLVER.SEED
custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'), interval=10, offset=1,
         by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
