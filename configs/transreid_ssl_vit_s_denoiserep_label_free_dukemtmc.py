# Label-free DenoiseRep on TransReID-SSL ViT-S/16 on DukeMTMC-reID (the paper's "Analysis of Label Informations",
# '+DenoiseRep (label-free)'): the DenoiseRep config with its denoise phase only, from the trained baseline, on the
# training images of DukeMTMC-reID with no identity read (mmdenoiserep.UnlabeledImageFolder on bounding_box_train/: the
# 16,522 images of the labelled training split; no sampler that reads labels); DenoiseRepHook runs the backbone only and
# nothing of the network moves. Fuse the result with tools/fuse_ckpt.py and test the fused checkpoint with the baseline
# config (ReIDMetric), as the DenoiseRep row's.
# Recipe: project recipe: the authors' public code has no label-free run (their processor.py always alternates the
# phases); all but the labels and the phase schedule is the DenoiseRep row's (the authors' RG12138/DenoiseRep
# configs/dukemtmc/vit_small.yml stage): the 24 MLP Linear layers (preset 'authors'), lambda 0.1, the paper's loss over
# every position, SGD 1e-4 momentum 0.9, weight decay 1e-4, bias lr x2, denoisers at lr x4, timm's cosine with a
# 20-epoch warm-up (from 0.01x, to 0.002x, per epoch), SOLVER.SEED 1234, global batch 128, validation every 120 epochs.
# Denoise epochs: 120, the DenoiseRep row's denoise-phase epochs (its 240 epochs alternate phases of 10 from epoch 1: 9
# + 11 x 10 + 1 = 120), so both give the denoisers as many passes over the training images; the cosine spans the 120
# epochs (interval 120, offset 0: one phase). Batches by a plain shuffle: 130 iterations per epoch (16,522 / 128, the
# last one partial; the DenoiseRep row's identity batches drop each identity's remainder).
# Summed denoiser LR over the denoise phase: 2.03e-2 x iterations per epoch (the DenoiseRep row's denoise phase: 2.20e-2
# x its iterations per epoch).
# Global batch: batch_size is per process here (DefaultSampler): 128 on one GPU, the authors' run; on w GPUs give
# batch_size=128 // w (tools/train.py warns when the total differs from auto_scale_lr's 128).
_base_ = './transreid_ssl_vit_s_denoiserep_dukemtmc.py'

train_dataloader = dict(
    batch_size=128,  # per process (see the header)
    dataset=dict(_delete_=True, type='mmdenoiserep.UnlabeledImageFolder',
                 data_root='data/dukemtmc-reid/DukeMTMC-reID', data_prefix=dict(img_path='bounding_box_train/'),
                 pipeline={{_base_.train_pipeline}}),
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=None)  # IdentityBatchSampler reads the identities
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1e-4, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(bias_lr_mult=2.0, denoiser_lr_mult=4.0))
param_scheduler = [
    dict(type='mmdenoiserep.TimmCosineLR', t_initial=120, warmup_t=20, warmup_lr_init=0.01 * 1e-4,
         lr_min=0.002 * 1e-4, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=128)
randomness = dict(seed=1234, deterministic=False)  # defaults.py: SOLVER.SEED
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=120)
default_hooks = dict(checkpoint=dict(interval=120))
custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise',), interval=120, offset=0,
         by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
