# TransReID-SSL ViT-S/16 on Market-1501: the DenoiseRep re-id baseline. Thin file: no OpenMMLab toolbox has a
# person re-id config. The authors' recipe (github.com/damo-cv/TransReID-SSL, transreid_pytorch/configs/
# market/vit_small.yml) on mmpretrain's ViT: ViT-S/16 at 256x128 from the LUPerson self-supervised checkpoint
# (DINO, CFS-selected LUPerson), BNNeck head, ID loss + soft-margin batch-hard triplet loss, batches of
# 16 identities x 4 images, SGD lr 4e-4 for 120 epochs (20 warm-up, cosine), test features after the BNNeck
# norm, L2-normalised, camera-aware mAP/CMC. The LUPerson checkpoint is on Google Drive (no direct URL):
# download vit_small_cfs_lup.pth from the TransReID-SSL README, then
#   python tools/model_converters/luperson_vit_to_mmpretrain.py vit_small_cfs_lup.pth pretrain/vit_small_cfs_lup.pth
# Differences from the authors' yml, as the issue specifies the design: label smoothing 0.1 (yml: off) and
# features after the BNNeck norm (yml: NECK_FEAT 'before'); label_smooth=0.0, test_feature='before_bn' match it.
_base_ = ['mmpretrain::_base_/default_runtime.py']

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
        label_smooth=0.1,
        triplet_margin=None,  # soft margin (yml: NO_MARGIN True)
        loss_weights=(1.0, 1.0)))

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
    dict(type='Resize', scale=(128, 256), interpolation='bicubic'),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'pid', 'camid', 'is_query')),
]
train_dataloader = dict(
    batch_size=64,  # P = 16 identities x K = 4 images
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

# schedule: SGD 4e-4 (bias lr x2), weight decay 1e-4, 120 epochs, linear warm-up over 20 then cosine
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=4e-4, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(bias_lr_mult=2.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=100, eta_min=8e-7, by_epoch=True, begin=20, end=120),
]
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=120)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=120), logger=dict(interval=20))
