# TransReID-SSL ViT-B/16+ICS on Market-1501 at 384x128: the DenoiseRep re-id baseline of the paper's "TransReID-SSL
# ViT-base" rows. Thin file: no OpenMMLab toolbox has a person re-id config. Recipe: authors' code
# damo-cv/TransReID-SSL transreid_pytorch/configs/market/vit_base_ics_384.yml (with config/defaults.py,
# solver/make_optimizer.py, solver/scheduler_factory.py, datasets/make_dataloader.py), point by point: the ViT-S
# baseline's recipe (./transreid_ssl_vit_s_market1501.py, the same yml keys but these) on ViT-B/16 with the ICS
# convolution stem (STEM_CONV True: mmdenoiserep.TransReIDViT stem_conv) at 384x128 (SIZE_TRAIN/SIZE_TEST), from
# the LUPerson self-supervised ViT-B/16+ICS checkpoint (vit_base_ics_cfs_lup.pth, pre-trained at 256x128: its 16 x 8
# position grid resized bilinearly to 24 x 8 on load, PRETRAIN_HW_RATIO 2, as TransReID-SSL's load_param); drop
# path 0.1, patch stride 16 (STRIDE_SIZE), no SIE or JPM (defaults.py: SIE_CAMERA/SIE_VIEW False, JPM False), BNNeck
# head, ID loss without label smoothing + soft-margin batch-hard triplet loss, global batch 64 = 16 identities x 4
# images, SGD BASE_LR 4e-4 momentum 0.9, weight decay 1e-4 (biases too), every bias at lr x2 (BIAS_LR_FACTOR:
# LayerNorm and the stem's norm biases included), 120 epochs of timm's cosine with a 20-epoch warm-up inside it
# (from 0.01x, to 0.002x, per epoch), AMP, SOLVER.SEED 1234, test feature before the BNNeck norm (NECK_FEAT 'before'),
# L2-normalised, camera-aware mAP/CMC. The yml of RG12138/DenoiseRep with the same name is the DenoiseRep stage
# (BASE_LR 1e-4, IMS_PER_BATCH 128: ./transreid_ssl_vit_b_ics_control_market1501.py), not this baseline.
# The LUPerson checkpoint is on Google Drive (no direct URL): download vit_base_ics_cfs_lup.pth from the
# TransReID-SSL README, then (at its own 256x128 grid; the backbone resizes it)
#   python tools/model_converters/luperson_vit_to_mmpretrain.py vit_base_ics_cfs_lup.pth \
#       pretrain/vit_base_ics_cfs_lup.pth
# Not reproduced (no effect on the experiment's maths): cudnn.deterministic / benchmark flags (GPU kernel choice).
_base_ = './transreid_ssl_vit_s_market1501.py'

luperson = 'pretrain/vit_base_ics_cfs_lup.pth'  # tools/model_converters/luperson_vit_to_mmpretrain.py
num_identities = 751  # Market-1501 training identities
model = dict(
    type='ImageClassifier',
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.TransReIDViT',
        arch='b',  # ViT-B/16: 768 channels, 12 layers, 12 heads (vit_base_patch16_224_TransReID)
        img_size=(384, 128),
        patch_size=16,
        stem_conv=True,  # STEM_CONV: conv 7x7/2 - IBN - conv 3x3 - IBN - conv 3x3 - BN, then an 8x8 projection
        out_type='cls_token',
        drop_path_rate=0.1,  # defaults.py: DROP_PATH
        interpolate_mode='bilinear',  # vit_pytorch.py resize_pos_embed
        pretrain_hw_ratio=2,  # PRETRAIN_HW_RATIO
        init_cfg=dict(type='Pretrained', checkpoint=luperson)),
    neck=None,
    head=dict(
        type='mmdenoiserep.BNNeckHead',
        in_channels=768,
        num_classes=num_identities,
        label_smooth=0.0,  # yml: IF_LABELSMOOTH 'off'
        triplet_margin=None,  # soft margin (yml: NO_MARGIN True)
        loss_weights=(1.0, 1.0),  # defaults.py: ID_LOSS_WEIGHT, TRIPLET_LOSS_WEIGHT
        test_feature='before_bn'))  # yml: NECK_FEAT 'before'

# data: 384x128 (H x W), flip, pad 10 + random crop, random erasing; pixels to [-1, 1] (mean = std = 0.5)
data_preprocessor = dict(num_classes=num_identities, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5],
                         to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 384), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=(384, 128), padding=10),
    dict(type='RandomErasing', erase_prob=0.5, max_area_ratio=1 / 3, mode='rand', fill_color=(128, 128, 128),
         fill_std=(128, 128, 128)),  # timm's 'pixel' mode: N(0, 1) noise in normalised units
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 384), interpolation='bilinear'),  # make_dataloader.py: T.Resize(SIZE_TEST)
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'pid', 'camid', 'is_query')),
]
train_dataloader = dict(
    batch_size=64,  # global (IdentityBatchSampler): P = 16 identities x K = 4 images, on any number of GPUs
    dataset=dict(pipeline=train_pipeline),
    batch_sampler=dict(type='mmdenoiserep.IdentityBatchSampler', num_instances=4))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# schedule: SGD 4e-4, momentum 0.9, weight decay 1e-4 on every parameter, bias lr x2 (make_optimizer.py: every
# parameter whose name holds 'bias'; mmengine's bias_lr_mult skips norm biases, so the LayerNorms' and the ICS
# stem's InstanceNorm/BatchNorm biases are listed), AMP, 120 epochs of timm's CosineLRScheduler (t_initial
# MAX_EPOCHS, warmup_t WARMUP_EPOCHS 20, warmup_lr_init 0.01 x BASE_LR, lr_min 0.002 x BASE_LR, per epoch).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=4e-4, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(bias_lr_mult=2.0, custom_keys={
        'ln1.bias': dict(lr_mult=2.0), 'ln2.bias': dict(lr_mult=2.0), 'instance_norm.bias': dict(lr_mult=2.0),
        'batch_norm.bias': dict(lr_mult=2.0), 'stem.7.bias': dict(lr_mult=2.0)}))
param_scheduler = [
    dict(type='mmdenoiserep.TimmCosineLR', t_initial=120, warmup_t=20, warmup_lr_init=0.01 * 4e-4,
         lr_min=0.002 * 4e-4, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=64)  # the yml's IMS_PER_BATCH (the batch above is global)
randomness = dict(seed=1234, deterministic=False)  # defaults.py: SOLVER.SEED
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=120)  # EVAL_PERIOD
default_hooks = dict(checkpoint=dict(interval=120))  # CHECKPOINT_PERIOD
