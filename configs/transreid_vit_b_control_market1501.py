# TransReID ViT-B/16 baseline (ViT-BoT) on Market-1501, control: the DenoiseRep stage without denoising.
# Recipe: project recipe: the authors published no DenoiseRep code for TransReID, so this is their ViT-B re-id stage
# (RG12138/DenoiseRep Person-ReID/TransReID-SSL/transreid_pytorch configs/market/vit_base_ics_384.yml, with
# solver/make_optimizer.py, solver/scheduler_factory.py, processor/processor.py, train.py) carried over key by key to
# TransReID's model (the yml's STEM_CONV, 384x128 input and PRETRAIN_HW_RATIO describe TransReID-SSL's model; the
# model, input and data stay TransReID's): from the trained TransReID baseline (train.py: model.load_param), 120 epochs
# (MAX_EPOCHS), global batch 128 = 32 identities x 4 images (IMS_PER_BATCH, one GPU), SGD BASE_LR 1e-4 momentum 0.9,
# weight decay 1e-4 on every parameter, bias lr x2, denoiser lr x4 (make_optimizer.py: 'dm' parameters at BASE_LR * 4;
# nothing here has denoisers, the key is kept so that the DenoiseRep config differs only by the method), timm's cosine
# over all 120 epochs with a 20-epoch warm-up inside it (WARMUP_EPOCHS; from 1e-6 = 0.01 x BASE_LR, to 2e-7 = 0.002 x
# BASE_LR, stepped after each epoch as their processor.py), AMP, SOLVER.SEED 1234, validation every 120 epochs
# (EVAL_PERIOD). The rest (ViT-B/16 at 256x128, stride 16, data, head, losses, test feature) is the baseline's.
_base_ = './transreid_vit_b_market1501.py'

train_dataloader = dict(batch_size=128)  # global (IdentityBatchSampler): P = 32 identities x K = 4, any GPU count
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=1e-4, momentum=0.9, weight_decay=1e-4),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(bias_lr_mult=2.0, denoiser_lr_mult=4.0,
                       custom_keys={'ln1.bias': dict(lr_mult=2.0), 'ln2.bias': dict(lr_mult=2.0)}))
param_scheduler = [
    dict(type='mmdenoiserep.TimmCosineLR', t_initial=120, warmup_t=20, warmup_lr_init=0.01 * 1e-4,
         lr_min=0.002 * 1e-4, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=128)  # the yml's IMS_PER_BATCH (the batch above is global)
randomness = dict(seed=1234, deterministic=False)  # defaults.py: SOLVER.SEED
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=120)
default_hooks = dict(checkpoint=dict(interval=120))  # CHECKPOINT_PERIOD
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
# the trained baseline (TransReID's README links theirs: "Baseline(ViT)", Market)
load_from = 'work_dirs/transreid_vit_b_market1501/epoch_120.pth'
