# TransReID* ViT-B/16 (stride 12, JPM; the "ViT-base-ics" variant of the person rows) on VehicleID at 256x256, test set
# of 800 vehicles. Thin file: no OpenMMLab toolbox has a re-id config. Recipe: authors' code damo-cv/TransReID
# configs/VehicleID/vit_transreid_stride.yml (with config/defaults.py, datasets/vehicleid.py,
# datasets/make_dataloader.py, datasets/sampler_ddp.py, test.py, dist_train.sh), point by point: the Market-1501
# TransReID* recipe (./transreid_vit_b_ics_market1501.py) with
# - SIZE_TRAIN / SIZE_TEST [256, 256]: a 21 x 21 grid of overlapping patches (STRIDE_SIZE [12, 12]);
# - JPM with SHIFT_NUM 8 (SHUFFLE_GROUP 2, DEVIDE_LENGTH 4, RE_ARRANGE True);
# - no SIE: the yml sets neither SIE_CAMERA nor SIE_VIEW (defaults False), and VehicleID has no camera or view labels
#   (datasets/vehicleid.py: camid 0 for training and query images, 1 for the gallery, viewid 1 for all);
# - SGD BASE_LR 0.045, global batch 256 = 64 vehicles x 4 images (IMS_PER_BATCH is global: sampler_ddp.py gives each of
#   the README's 4 GPUs (dist_train.sh, MODEL.DIST_TRAIN True) IMS_PER_BATCH // world_size = 64 images of 16
#   vehicles, so on 4 GPUs the batch-hard triplets and BNNeck statistics are per 64 images, as theirs);
# - the rest as the person rows: ImageNet jx_vit_base_p16_224 start, PIXEL_MEAN = PIXEL_STD = 0.5, 120 epochs of
#   timm's cosine with a 5-epoch warm-up inside it, weight decay 1e-4, bias lr x2, AMP, seed 1234, BNNeck heads, no
#   label smoothing, soft-margin triplet, test feature before the norms (NECK_FEAT 'before'), L2-normalised;
# - test protocol (test.py): the 800-vehicle test list; each of 10 trials draws one random gallery image per vehicle
#   (datasets/vehicleid.py: random.choice), the other images are the queries; CMC and mAP averaged over the trials
#   (here 10 draws seeded 0 .. 9: ReIDMetric gallery='random_per_identity').
# TransReID's scheduler timing as ./transreid_vit_b_market1501.py (t_offset=1). Not reproduced: their 10 draws are
# unseeded.
_base_ = './transreid_vit_b_ics_market1501.py'

num_identities = 13164  # VehicleID training vehicles (datasets/vehicleid.py asserts 13164)
model = dict(
    type='mmdenoiserep.ReIDClassifier',
    backbone=dict(
        img_size=(256, 256),  # INPUT.SIZE_TRAIN
        stride_size=12,  # STRIDE_SIZE [12, 12]
        num_cameras=0,  # SIE_CAMERA False (default)
        num_views=0,  # SIE_VIEW False (default)
        jpm=dict(shift_num=8, shuffle_groups=2, divide_length=4, rearrange=True)),  # SHIFT_NUM 8
    head=dict(num_classes=num_identities))

# data: 256x256, flip, pad 10 + random crop, random erasing; pixels to [-1, 1] (mean = std = 0.5)
data_preprocessor = dict(num_classes=num_identities, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5],
                         to_rgb=True)
dataset_type = 'mmdenoiserep.VehicleID'
data_root = 'data/vehicleid/VehicleID_V1.0'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256), interpolation='bicubic'),  # T.Resize(SIZE_TRAIN, interpolation=3)
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),  # INPUT.PROB
    dict(type='RandomCrop', crop_size=(256, 256), padding=10),  # T.Pad(PADDING), T.RandomCrop(SIZE_TRAIN)
    dict(type='RandomErasing', erase_prob=0.5, max_area_ratio=1 / 3, mode='rand', fill_color=(128, 128, 128),
         fill_std=(128, 128, 128)),  # RE_PROB; timm's 'pixel' mode: N(0, 1) noise in normalised units
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                                       'flip_direction', 'camid')),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256), interpolation='bilinear'),  # make_dataloader.py: T.Resize(SIZE_TEST)
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'pid', 'camid', 'is_query')),
]
train_dataloader = dict(
    batch_size=256,  # global (IdentityBatchSampler): P = 64 vehicles x K = 4 images, on any number of GPUs
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline),
    batch_sampler=dict(type='mmdenoiserep.IdentityBatchSampler', num_instances=4))  # NUM_INSTANCE
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, test_size=800, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='mmdenoiserep.ReIDMetric', normalize=True, gallery='random_per_identity', trials=10, seed=0)
test_evaluator = val_evaluator

# schedule: SGD 0.045 (BASE_LR), momentum 0.9, weight decay 1e-4 on every parameter, bias lr x2 (the LayerNorms' and
# the JPM local norm's listed), AMP, 120 epochs of timm's CosineLRScheduler (t_initial 120, warm-up 5 epochs from
# 0.01 x BASE_LR, to 0.002 x BASE_LR, per epoch).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=0.045, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(bias_lr_mult=2.0, custom_keys={
        'ln1.bias': dict(lr_mult=2.0), 'ln2.bias': dict(lr_mult=2.0), 'jpm_norm.bias': dict(lr_mult=2.0)}))
param_scheduler = [
    dict(type='mmdenoiserep.TimmCosineLR', t_initial=120, t_offset=1, warmup_t=5, warmup_lr_init=0.01 * 0.045,
         lr_min=0.002 * 0.045, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=256)  # the yml's IMS_PER_BATCH (global)
randomness = dict(seed=1234, deterministic=False)  # defaults.py: SOLVER.SEED
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=120)  # MAX_EPOCHS, EVAL_PERIOD
default_hooks = dict(checkpoint=dict(interval=120))  # CHECKPOINT_PERIOD
