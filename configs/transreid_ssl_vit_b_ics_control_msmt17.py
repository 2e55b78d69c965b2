# TransReID-SSL ViT-B/16+ICS on MSMT17, control: the DenoiseRep stage of the authors, without denoising.
# Recipe: authors' code RG12138/DenoiseRep Person-ReID/TransReID-SSL/transreid_pytorch
# configs/msmt17/vit_base_ics_384.yml (with solver/make_optimizer.py, solver/scheduler_factory.py,
# processor/processor.py, train.py), point by point:
# from the trained TransReID-SSL baseline (train.py: model.load_param), 120 epochs (MAX_EPOCHS), global batch 128
# = 32 identities x 4 images (IMS_PER_BATCH, one GPU), SGD BASE_LR 1e-4 momentum 0.9, weight decay 1e-4 on every
# parameter, bias lr x2, denoiser lr x4 (make_optimizer.py: 'dm' parameters at BASE_LR * 4; nothing here has
# denoisers, the key is kept so that the DenoiseRep config differs only by the method), timm's cosine over all
# 120 epochs with a 20-epoch warm-up inside it (from 1e-6 = 0.01 x BASE_LR, to 2e-7 = 0.002 x BASE_LR, per
# epoch), AMP, SOLVER.SEED 1234, validation every 120 epochs (EVAL_PERIOD). The rest (ViT-B/16+ICS at 384x128,
# data, head, losses, test feature) is the baseline's, as the yml's.
_base_ = './transreid_ssl_vit_b_ics_msmt17.py'

train_dataloader = dict(batch_size=128)  # global (IdentityBatchSampler): P = 32 identities x K = 4, any GPU count
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=1e-4, momentum=0.9, weight_decay=1e-4),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(bias_lr_mult=2.0, denoiser_lr_mult=4.0, custom_keys={
        'ln1.bias': dict(lr_mult=2.0), 'ln2.bias': dict(lr_mult=2.0), 'instance_norm.bias': dict(lr_mult=2.0),
        'batch_norm.bias': dict(lr_mult=2.0), 'stem.7.bias': dict(lr_mult=2.0)}))
param_scheduler = [
    dict(type='mmdenoiserep.TimmCosineLR', t_initial=120, warmup_t=20, warmup_lr_init=0.01 * 1e-4,
         lr_min=0.002 * 1e-4, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=128)  # the yml's IMS_PER_BATCH (the batch above is global)
randomness = dict(seed=1234, deterministic=False)  # defaults.py: SOLVER.SEED
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=120)
default_hooks = dict(checkpoint=dict(interval=120))  # CHECKPOINT_PERIOD
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
# the trained baseline (the TransReID-SSL README links theirs, ViT-B/16+ICS 384*128)
load_from = 'work_dirs/transreid_ssl_vit_b_ics_msmt17/epoch_120.pth'
