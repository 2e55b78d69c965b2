# CLIP-ReID ViT-B/16 with SIE and overlapping patches (the README's "CLIP-ReID+SIE+OLP") on Market-1501: the
# DenoiseRep re-id baseline. Thin file: no OpenMMLab toolbox has a person re-id config. Recipe: authors' code
# Syliz517/CLIP-ReID configs/person/vit_clipreid.yml with the README's options MODEL.SIE_CAMERA True,
# MODEL.SIE_COE 1.0, MODEL.STRIDE_SIZE [12, 12] (with config/defaults.py, train_clipreid.py,
# processor/processor_clipreid_stage1.py and _stage2.py, solver/make_optimizer_prompt.py, solver/scheduler_factory.py,
# solver/lr_scheduler.py, loss/make_loss.py, datasets/make_dataloader_clipreid.py, model/make_model_clipreid.py),
# point by point on mmdenoiserep.CLIPReID: CLIP's ViT-B/16 image encoder (OpenAI weights) at 256x128 with patches
# of 16 at stride 12 (a 21 x 10 grid; CLIP's 14 x 14 position grid resized bilinearly on load), the SIE camera
# embedding (6 training cameras, SIE_COE 1.0) on the class token, CLIP's frozen text encoder; two stages in one
# run (mmdenoiserep.CLIPReIDTrainLoop, 180 epochs):
# - stage 1, epochs 1-120 (STAGE1.MAX_EPOCHS): the image features (projected class token, no SIE) of the training
#   set extracted once with the test transform; the prompt learner ("A photo of a X X X X person.", 4 learnable
#   tokens per identity) trained on permutations of them in batches of 64 (STAGE1.IMS_PER_BATCH) with the
#   image-to-text + text-to-image SupCon losses; Adam 3.5e-4, weight decay 1e-4 (STAGE1.BASE_LR, WEIGHT_DECAY),
#   timm's cosine over 120 epochs with a 5-epoch warm-up from 1e-5 inside it, to 1e-6 (WARMUP_EPOCHS,
#   WARMUP_LR_INIT, LR_MIN), stepped at the start of epoch e = 1, 2, ... with t = e;
# - stage 2, epochs 121-180 (STAGE2.MAX_EPOCHS 60): the text features of all identities computed once and frozen;
#   the image encoder, SIE and heads trained with ID loss (label smoothing 0.1, both classifiers) x 0.25 +
#   batch-hard triplet loss (margin 0.3, on the 11th-layer, 12th-layer and projected class tokens) x 1.0 +
#   image-to-text cross-entropy (label smoothing) x 1.0 (ID/TRIPLET/I2T_LOSS_WEIGHT, IF_LABELSMOOTH on, MARGIN);
#   global batch 64 = 16 identities x 4 images (STAGE2.IMS_PER_BATCH, NUM_INSTANCE); Adam 5e-6, weight decay 1e-4
#   on every trained parameter, lr x2 for every name holding 'bias' (BIAS_LR_FACTOR, in_proj and LayerNorm biases
#   included; the BNNeck biases frozen), WarmupMultiStepLR: 10 warm-up epochs from 0.1 (linear), x0.1 at stage-2
#   epochs 30 and 50 (WARMUP_ITERS, WARMUP_FACTOR, STEPS, GAMMA), stepped at the start of each epoch;
# AMP in both stages, SOLVER.SEED 1234; test feature [12th-layer class token, projected class token] before the
# BNNecks (NECK_FEAT 'before'), L2-normalised (FEAT_NORM), camera-aware mAP/CMC at the end (EVAL_PERIOD 60 of
# stage 2); train resize bicubic, flip 0.5, pad 10 + crop, random erasing 0.5 (timm 'pixel'), test resize bilinear,
# mean = std = 0.5. The OpenAI checkpoint is a TorchScript archive: extract its state_dict, then
#   python tools/model_converters/clip_to_mmdenoiserep.py clip_vit_b16_state_dict.pth pretrain/clip_vit_b16.pth
# Not reproduced (no effect on the experiment's maths): cudnn flags; autocast during the two one-off feature
# extractions (float32 here); stage 1 under DDP runs the whole batch on every process (CLIP-ReID: one GPU).
_base_ = ['mmpretrain::_base_/default_runtime.py', './_base_/denoiserep_runtime.py']

clip = 'pretrain/clip_vit_b16.pth'  # tools/model_converters/clip_to_mmdenoiserep.py
num_identities = 751  # Market-1501 training identities
num_cameras = 6  # Market-1501 training cameras (SIE)
model = dict(
    type='mmdenoiserep.CLIPReID',
    num_classes=num_identities,
    backbone=dict(
        type='mmdenoiserep.CLIPImageEncoder',
        img_size=(256, 128),  # INPUT.SIZE_TRAIN
        patch_size=16,
        stride=12,  # MODEL.STRIDE_SIZE [12, 12]: overlapping patches (OLP)
        width=768, layers=12, heads=12, output_dim=512,  # ViT-B/16
        num_cameras=num_cameras,  # MODEL.SIE_CAMERA True
        sie_coe=1.0,  # MODEL.SIE_COE
        init_cfg=dict(type='Pretrained', checkpoint=clip, prefix='backbone.')),
    text_encoder=dict(
        type='mmdenoiserep.CLIPTextEncoder', vocab_size=49408, context_length=77, width=512, layers=12, heads=8,
        output_dim=512, init_cfg=dict(type='Pretrained', checkpoint=clip, prefix='text_encoder.')),
    template='A photo of a X X X X person.',  # make_model_clipreid.py PromptLearner (person datasets)
    n_cls_ctx=4,
    label_smooth=0.1,  # IF_LABELSMOOTH 'on': CrossEntropyLabelSmooth, epsilon 0.1
    triplet_margin=0.3,  # SOLVER.MARGIN (NO_MARGIN False)
    loss_weights=dict(id=0.25, triplet=1.0, i2t=1.0),  # ID_LOSS_WEIGHT, TRIPLET_LOSS_WEIGHT, I2T_LOSS_WEIGHT
    test_feature='before',  # TEST.NECK_FEAT
    text_batch_size=64)  # processor_clipreid_stage2.py: the text features in chunks of STAGE2.IMS_PER_BATCH

# data: 256x128 (H x W); pixels to [-1, 1] (PIXEL_MEAN = PIXEL_STD = 0.5); camid packed for SIE
data_preprocessor = dict(num_classes=num_identities, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5],
                         to_rgb=True)
dataset_type = 'mmdenoiserep.Market1501'
data_root = 'data/market1501/Market-1501-v15.09.15'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 256), interpolation='bicubic'),  # T.Resize(SIZE_TRAIN, interpolation=3)
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),  # INPUT.PROB
    dict(type='RandomCrop', crop_size=(256, 128), padding=10),  # INPUT.PADDING
    dict(type='RandomErasing', erase_prob=0.5, max_area_ratio=1 / 3, mode='rand', fill_color=(128, 128, 128),
         fill_std=(128, 128, 128)),  # INPUT.RE_PROB, timm's 'pixel' mode: N(0, 1) noise in normalised units
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'camid')),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 256), interpolation='bilinear'),  # T.Resize(SIZE_TEST)
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'pid', 'camid', 'is_query')),
]
train_dataloader = dict(
    batch_size=64,  # global (IdentityBatchSampler): P = 16 identities x K = 4 images, on any number of GPUs
    num_workers=8,
    persistent_workers=True,
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='mmdenoiserep.IdentityBatchSampler', num_instances=4))
val_dataloader = dict(
    batch_size=64,  # TEST.IMS_PER_BATCH
    num_workers=8,
    persistent_workers=True,
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='mmdenoiserep.ReIDMetric')  # query vs gallery, same-camera matches discarded
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# schedule: stage 1 (epochs 1-120) and stage 2 (121-180) in one loop, one optimizer per stage
train_cfg = dict(
    type='mmdenoiserep.CLIPReIDTrainLoop',
    max_epochs=180,  # STAGE1.MAX_EPOCHS 120 + STAGE2.MAX_EPOCHS 60
    prompt_epochs=120,
    prompt_dataloader=dict(  # make_dataloader_clipreid.py train_loader_stage1: the training set, test transform
        batch_size=64, num_workers=8,
        dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=test_pipeline)),
    prompt_batch_size=64,  # STAGE1.IMS_PER_BATCH
    val_interval=180)  # STAGE2.EVAL_PERIOD 60: the last epoch
optim_wrapper = dict(
    constructor='mmdenoiserep.CLIPReIDOptimWrapperConstructor',
    prompt=dict(type='AmpOptimWrapper', loss_scale='dynamic',  # make_optimizer_1stage: the prompt learner
                optimizer=dict(type='Adam', lr=3.5e-4, weight_decay=1e-4)),
    image=dict(type='AmpOptimWrapper', loss_scale='dynamic',  # make_optimizer_2stage: all but the text side
               optimizer=dict(type='Adam', lr=5e-6, weight_decay=1e-4),
               paramwise_cfg=dict(custom_keys={'bias': dict(lr_mult=2.0)})))  # BIAS_LR_FACTOR, WEIGHT_DECAY_BIAS
param_scheduler = dict(
    prompt=[dict(type='mmdenoiserep.CLIPReIDCosineLR', t_initial=120, warmup_t=5, warmup_lr_init=1e-5, lr_min=1e-6,
                 by_epoch=True, begin=0, end=120)],
    image=[dict(type='mmdenoiserep.CLIPReIDWarmupMultiStepLR', milestones=[30, 50], gamma=0.1, warmup_factor=0.1,
                warmup_iters=10, warmup_method='linear', by_epoch=True, begin=120, end=180)])
auto_scale_lr = dict(base_batch_size=64)  # STAGE2.IMS_PER_BATCH (the batch above is global)
randomness = dict(seed=1234, deterministic=False)  # defaults.py: SOLVER.SEED
find_unused_parameters = True  # under DDP: stage 1 does not use the image side, stage 2 not the prompt learner
val_cfg = dict()
test_cfg = dict()
default_hooks = _base_.denoiserep_default_hooks  # atomic checkpoints, reseeding, checkpoint checks
default_hooks.checkpoint.update(interval=60)  # STAGE1 CHECKPOINT_PERIOD 120, STAGE2 CHECKPOINT_PERIOD 60
default_hooks.update(logger=dict(interval=50))  # LOG_PERIOD
