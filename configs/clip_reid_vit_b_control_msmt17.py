# CLIP-ReID ViT-B/16 (SIE + OLP) on MSMT17, control: the DenoiseRep stage of this project without denoising.
# Recipe: project recipe: the authors published no CLIP-ReID DenoiseRep code (RG12138/DenoiseRep's re-id code is
# TransReID-SSL only), so this is the authors' re-id DenoiseRep stage (Person-ReID/TransReID-SSL/transreid_pytorch,
# as configs/transreid_ssl_vit_s_control_market1501.py carries it: from the trained model, the baseline's own
# recipe again for twice its length, at 1/4 of its LR and twice its batch, same seed) applied to CLIP-ReID's stage 2,
# key by key:
# - start: the trained CLIP-ReID baseline (both stages; load_from its epoch 180); stage 2 only (prompt_epochs=0):
#   the text features of every identity computed once from its trained prompt learner and frozen, the text
#   encoder and prompt learner frozen (CLIP-ReID's stage 2), the same losses, heads, SIE, data and test feature;
# - length: 120 epochs, twice stage 2's 60 (the authors: 240 = 2 x TransReID-SSL's 120);
# - schedule: stage 2's own WarmupMultiStepLR stretched to the length as the authors stretch their cosine: the
#   same 10 warm-up epochs from 0.1, x0.1 at epochs 60 and 100 (stage 2's 30 and 50 x 2), per epoch from 1;
# - optimizer: stage 2's Adam at 1/4 of its LR, 1.25e-6 (the authors: SGD 1e-4 = 4e-4 / 4), weight decay 1e-4,
#   bias lr x2 (names holding 'bias'), AMP;
# - batch: global 128 = 32 identities x 4 images (the authors: 128 = 2 x 64);
# - denoiser LR: denoiser_lr_mult 4000 (peak 5e-3), no weight decay: the project's rule for Adam-family rows
#   (docs/recipes.md: a summed denoiser LR of 10 or more over the denoise phases; the authors' x4 is an SGD rule);
#   nothing here has denoisers, the key is kept so that the DenoiseRep config differs only by the method;
# - seed 1234 (CLIP-ReID's SOLVER.SEED); validation every 20 epochs (the authors' EVAL_PERIOD of Market-1501 and
#   MSMT17).
_base_ = './clip_reid_vit_b_msmt17.py'

train_dataloader = dict(batch_size=128)  # global (IdentityBatchSampler): P = 32 identities x K = 4, any GPU count
train_cfg = dict(_delete_=True, type='mmdenoiserep.CLIPReIDTrainLoop', max_epochs=120, prompt_epochs=0,
                 val_interval=20)
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='Adam', lr=1.25e-6, weight_decay=1e-4),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(denoiser_lr_mult=4000, custom_keys={'bias': dict(lr_mult=2.0),
                                                           '.denoiser.': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='mmdenoiserep.CLIPReIDWarmupMultiStepLR', milestones=[60, 100], gamma=0.1, warmup_factor=0.1,
         warmup_iters=10, warmup_method='linear', by_epoch=True, begin=0, end=120),
]
auto_scale_lr = dict(base_batch_size=128)  # the batch above (global)
randomness = dict(seed=1234, deterministic=False)  # CLIP-ReID defaults.py: SOLVER.SEED
default_hooks = dict(checkpoint=dict(interval=120))
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'work_dirs/clip_reid_vit_b_msmt17/epoch_180.pth'  # the trained baseline (both stages)
