# ViT-S/16 on VehicleID (test set of 800 vehicles), the DenoiseRep paper's vehicle re-id set, with the
# Market-1501 baseline's recipe at 256x256 (TransReID's vehicle input size). TransReID-SSL has no vehicle
# config and its LUPerson checkpoints are person-only, so the backbone starts from mmpretrain's official
# ImageNet-1k DeiT-S checkpoint (79.93 acc@1; same ViT-S/16 architecture). VehicleID has no cameras: its
# protocol draws one gallery image per vehicle at random, the rest are queries, averaged over 10 seeded draws.
_base_ = './transreid_ssl_vit_s_market1501.py'

deit_small = 'https://download.openmmlab.com/mmclassification/v0/deit/deit-small_pt-4xb256_in1k_20220218-9425b9bb.pth'  # noqa: E501
num_identities = 13164  # VehicleID training vehicles
model = dict(
    backbone=dict(img_size=256, init_cfg=dict(checkpoint=deit_small, prefix='backbone')),
    head=dict(num_classes=num_identities))
data_preprocessor = dict(num_classes=num_identities)
dataset_type = 'mmdenoiserep.VehicleID'
data_root = 'data/vehicleid/VehicleID_V1.0'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=(256, 256), padding=10),
    dict(type='RandomErasing', erase_prob=0.5, max_area_ratio=1 / 3, mode='rand', fill_color=(128, 128, 128),
         fill_std=(128, 128, 128)),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256), interpolation='bicubic'),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'pid', 'camid', 'is_query')),
]
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, test_size=800, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(gallery='random_per_identity', trials=10, seed=0)
test_evaluator = val_evaluator
