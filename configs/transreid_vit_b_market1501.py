# TransReID's ViT-B/16 baseline (He et al., "TransReID: Transformer-based Object Re-Identification", ICCV 2021; the
# paper's ViT-BoT / "Baseline") on Market-1501 at 256x128: the DenoiseRep re-id baseline of the paper's "TransReID
# ViT-base" rows. Its figures in the DenoiseRep slides (MSMT17 61.80/81.80, Market 87.10/94.60, Duke 79.60/89.00 mAP/R1)
# are TransReID's README "Baseline(ViT)" row (the released models, "Trained Models and logs (Size 256)"), not
# TransReID* (no JPM, no SIE, stride 16). Thin file: no OpenMMLab toolbox has a re-id config. Recipe: authors' code
# damo-cv/TransReID configs/Market/vit_base.yml (with config/defaults.py, solver/make_optimizer.py,
# solver/scheduler_factory.py, solver/cosine_lr.py, datasets/make_dataloader.py, loss/make_loss.py,
# model/make_model.py build_transformer, processor/processor.py, train.py), point by point: ViT-B/16
# (vit_base_patch16_224_TransReID: qkv bias, LayerNorm eps 1e-6) at 256x128 from timm's ImageNet jx_vit_base_p16_224
# (its 14 x 14 position grid resized bilinearly to 16 x 8 on load, load_param / resize_pos_embed), patch stride 16
# (STRIDE_SIZE [16, 16]), drop path 0.1 (defaults.py DROP_PATH), no dropout, no SIE (SIE_CAMERA/SIE_VIEW False) or JPM
# (JPM False); BNNeck head (BatchNorm1d, bias frozen, bias-free classifier), ID loss without label smoothing
# (IF_LABELSMOOTH 'off') + soft-margin batch-hard triplet loss (NO_MARGIN True), weights 1.0 / 1.0 (ID_LOSS_WEIGHT,
# TRIPLET_LOSS_WEIGHT); global batch 64 = 16 identities x 4 images (IMS_PER_BATCH, NUM_INSTANCE, sampler
# 'softmax_triplet'), SGD BASE_LR 0.008 momentum 0.9 (defaults.py MOMENTUM), weight decay 1e-4 on every parameter
# (WEIGHT_DECAY, WEIGHT_DECAY_BIAS), every bias at lr x2 (BIAS_LR_FACTOR 2; LARGE_FC_LR False), 120 epochs of timm's
# cosine with a 5-epoch warm-up inside it (WARMUP_EPOCHS default 5; from 0.01 x BASE_LR, to 0.002 x BASE_LR, per epoch),
# AMP, SOLVER.SEED 1234, test feature before the BNNeck norm (NECK_FEAT 'before'), L2-normalised (FEAT_NORM 'yes'),
# camera-aware mAP/CMC; data: train resize bicubic (interpolation=3), flip 0.5, pad 10 + random crop, random erasing 0.5
# (timm, mode 'pixel'), test resize bilinear, pixels to [-1, 1] (PIXEL_MEAN = PIXEL_STD = 0.5).
# The model is mmdenoiserep.ReIDClassifier (TransReID's model takes each image's camera and view label; without SIE, as
# here, it is mmpretrain's ImageClassifier) on mmdenoiserep.TransReIDViT (mmpretrain's ViT with TransReID's options).
# The ImageNet checkpoint (TransReID's README: ViT-Base):
#   wget https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-vitjx/jx_vit_base_p16_224-80ecf9dd.pth
#   python tools/model_converters/timm_vit_to_mmpretrain.py jx_vit_base_p16_224-80ecf9dd.pth \
#       pretrain/jx_vit_base_p16_224.pth
# TransReID's processor.py steps its scheduler at the start of each epoch with the 1-based epoch number
# (scheduler.step(epoch) before the epoch's iterations): epoch e (from 1) trains at t = e, the first at 0.208 x BASE_LR
# and the last at lr_min; TimmCosineLR's t_offset=1 does the same (TransReID-SSL's processor.py, the DenoiseRep
# stage's, steps after each epoch: t = e - 1, no offset).
# Not reproduced: cudnn.deterministic / benchmark flags (GPU kernel choice).
_base_ = './transreid_ssl_vit_s_market1501.py'

imagenet_vit_b = 'pretrain/jx_vit_base_p16_224.pth'  # tools/model_converters/timm_vit_to_mmpretrain.py
num_identities = 751  # Market-1501 training identities
model = dict(
    type='mmdenoiserep.ReIDClassifier',
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.TransReIDViT',
        arch='b',  # ViT-B/16: 768 channels, 12 layers, 12 heads (vit_base_patch16_224_TransReID)
        img_size=(256, 128),  # INPUT.SIZE_TRAIN
        patch_size=16,
        stride_size=16,  # STRIDE_SIZE [16, 16]: 16 x 8 patches
        out_type='cls_token',
        drop_rate=0.0,  # defaults.py DROP_OUT
        drop_path_rate=0.1,  # defaults.py DROP_PATH
        interpolate_mode='bilinear',  # vit_pytorch.py resize_pos_embed
        pretrain_hw_ratio=1,  # resize_pos_embed: a square source grid (14 x 14)
        init_cfg=dict(type='Pretrained', checkpoint=imagenet_vit_b, prefix='backbone')),
    neck=None,
    head=dict(
        _delete_=True,
        type='mmdenoiserep.BNNeckHead',
        in_channels=768,
        num_classes=num_identities,
        label_smooth=0.0,  # yml: IF_LABELSMOOTH 'off'
        triplet_margin=None,  # soft margin (yml: NO_MARGIN True)
        loss_weights=(1.0, 1.0),  # defaults.py: ID_LOSS_WEIGHT, TRIPLET_LOSS_WEIGHT
        test_feature='before_bn'))  # yml: NECK_FEAT 'before'

# data: 256x128 (H x W), flip, pad 10 + random crop, random erasing; pixels to [-1, 1] (mean = std = 0.5). Each sample's
# camera id is packed in training too (TransReID's train_collate_fn: image, pid, camid, viewid), for the SIE rows.
data_preprocessor = dict(num_classes=num_identities, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5],
                         to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 256), interpolation='bicubic'),  # T.Resize(SIZE_TRAIN, interpolation=3)
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),  # INPUT.PROB
    dict(type='RandomCrop', crop_size=(256, 128), padding=10),  # T.Pad(PADDING), T.RandomCrop(SIZE_TRAIN)
    dict(type='RandomErasing', erase_prob=0.5, max_area_ratio=1 / 3, mode='rand', fill_color=(128, 128, 128),
         fill_std=(128, 128, 128)),  # RE_PROB; timm's 'pixel' mode: N(0, 1) noise in normalised units
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                                       'flip_direction', 'camid')),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 256), interpolation='bilinear'),  # make_dataloader.py: T.Resize(SIZE_TEST)
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'pid', 'camid', 'is_query')),
]
train_dataloader = dict(
    batch_size=64,  # global (IdentityBatchSampler): P = 16 identities x K = 4 images, on any number of GPUs
    dataset=dict(pipeline=train_pipeline),
    batch_sampler=dict(type='mmdenoiserep.IdentityBatchSampler', num_instances=4))  # NUM_INSTANCE
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='mmdenoiserep.ReIDMetric', normalize=True)  # FEAT_NORM 'yes'; same-camera matches dropped
test_evaluator = val_evaluator

# schedule: SGD 0.008, momentum 0.9, weight decay 1e-4 on every parameter, bias lr x2 (make_optimizer.py: every
# parameter whose name holds 'bias'; mmengine's bias_lr_mult skips norm biases, so the LayerNorms' are listed), AMP
# (processor.py: torch.cuda.amp), 120 epochs of timm's CosineLRScheduler (scheduler_factory.py: t_initial MAX_EPOCHS,
# warmup_t WARMUP_EPOCHS 5, warmup_lr_init 0.01 x BASE_LR, lr_min 0.002 x BASE_LR, per epoch; see the header).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=0.008, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(bias_lr_mult=2.0, custom_keys={'ln1.bias': dict(lr_mult=2.0), 'ln2.bias': dict(lr_mult=2.0)}))
param_scheduler = [
    dict(type='mmdenoiserep.TimmCosineLR', t_initial=120, t_offset=1, warmup_t=5, warmup_lr_init=0.01 * 0.008,
         lr_min=0.002 * 0.008, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=64)  # the yml's IMS_PER_BATCH (the batch above is global)
randomness = dict(seed=1234, deterministic=False)  # defaults.py: SOLVER.SEED
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=120)  # MAX_EPOCHS, EVAL_PERIOD
default_hooks = dict(checkpoint=dict(interval=120))  # CHECKPOINT_PERIOD
