# TransReID-SSL ViT-S/16 on Market-1501: the DenoiseRep re-id baseline. Thin file: no OpenMMLab toolbox has a
# person re-id config. Recipe: authors' code damo-cv/TransReID-SSL transreid_pytorch/configs/market/vit_small.yml
# (with config/defaults.py, solver/make_optimizer.py, solver/scheduler_factory.py, datasets/make_dataloader.py),
# point by point on mmpretrain's ViT: ViT-S/16 at 256x128 from the LUPerson self-supervised checkpoint (DINO,
# CFS-selected LUPerson), drop path 0.1, BNNeck head, ID loss without label smoothing (IF_LABELSMOOTH off) +
# soft-margin batch-hard triplet loss (NO_MARGIN), global batch 64 = 16 identities x 4 images (IMS_PER_BATCH, on
# one GPU), SGD BASE_LR 4e-4 momentum 0.9, weight decay 1e-4 (biases too), every bias at lr x2 (BIAS_LR_FACTOR,
# LayerNorm biases included), 120 epochs of timm's cosine with a 20-epoch warm-up inside it (from 0.01x, to
# 0.002x, stepped per epoch), AMP, SOLVER.SEED 1234, test feature before the BNNeck norm (NECK_FEAT 'before'),
# L2-normalised, camera-aware mAP/CMC; train resize bicubic, test resize bilinear (torchvision's default).
# The LUPerson checkpoint is on Google Drive (no direct URL): download vit_small_cfs_lup.pth from the
# TransReID-SSL README, then
#   python tools/model_converters/luperson_vit_to_mmpretrain.py vit_small_cfs_lup.pth pretrain/vit_small_cfs_lup.pth
# Not reproduced (no effect on the experiment's maths): cudnn.deterministic / benchmark flags (GPU kernel choice).
_base_ = ['mmpretrain::_base_/default_runtime.py', './_base_/denoiserep_runtime.py']

luperson = 'pretrain/vit_small_cfs_lup.pth'  # tools/model_converters/luperson_vit_to_mmpretrain.py
num_identities = 751  # Market-1501 training identities
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch='deit-small',  # ViT-S/16: 384 channels, 12 layers, 6 heads
        img_size=(256, 128),
        patch_size=16,
        out_type='cls_token',
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=luperson)),
    neck=None,
    head=dict(
        type='mmdenoiserep.BNNeckHead',
        in_channels=384,
        num_classes=num_identities,
        label_smooth=0.0,  # yml: IF_LABELSMOOTH 'off'
        triplet_margin=None,  # soft margin (yml: NO_MARGIN True)
        loss_weights=(1.0, 1.0),  # defaults.py: ID_LOSS_WEIGHT, TRIPLET_LOSS_WEIGHT
        test_feature='before_bn'))  # yml: NECK_FEAT 'before'

# data: 256x128 (H x W), flip, pad 10 + random crop, random erasing; pixels to [-1, 1] (mean = std = 0.5)
data_preprocessor = dict(num_classes=num_identities, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5],
                         to_rgb=True)
dataset_type = 'mmdenoiserep.Market1501'
data_root = 'data/market1501/Market-1501-v15.09.15'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 256), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=(256, 128), padding=10),
    dict(type='RandomErasing', erase_prob=0.5, max_area_ratio=1 / 3, mode='rand', fill_color=(128, 128, 128),
         fill_std=(128, 128, 128)),  # timm's 'pixel' mode: N(0, 1) noise in normalised units
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 256), interpolation='bilinear'),  # make_dataloader.py: T.Resize(SIZE_TEST)
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
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='mmdenoiserep.ReIDMetric')  # query vs gallery, same-camera matches discarded
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# schedule: SGD 4e-4, momentum 0.9, weight decay 1e-4 on every parameter, bias lr x2 (make_optimizer.py: every
# parameter whose name holds 'bias'; mmengine's bias_lr_mult skips norm biases, so the LayerNorms' are listed),
# AMP (processor.py: torch.cuda.amp), 120 epochs of timm's CosineLRScheduler (scheduler_factory.py: t_initial
# MAX_EPOCHS, warmup_t WARMUP_EPOCHS 20, warmup_lr_init 0.01 x BASE_LR, lr_min 0.002 x BASE_LR, per epoch).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=4e-4, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(bias_lr_mult=2.0, custom_keys={'ln1.bias': dict(lr_mult=2.0), 'ln2.bias': dict(lr_mult=2.0)}))
param_scheduler = [
    dict(type='mmdenoiserep.TimmCosineLR', t_initial=120, warmup_t=20, warmup_lr_init=0.01 * 4e-4,
         lr_min=0.002 * 4e-4, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=64)  # the yml's IMS_PER_BATCH (the batch above is global)
randomness = dict(seed=1234, deterministic=False)  # defaults.py: SOLVER.SEED
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=120)
val_cfg = dict()
test_cfg = dict()
default_hooks = _base_.denoiserep_default_hooks  # atomic checkpoints, reseeding, checkpoint checks
default_hooks.checkpoint.update(interval=120)
default_hooks.update(logger=dict(interval=20))
