# Mask R-CNN with a SwinV2-T backbone (mmpretrain), FPN, 1x schedule on COCO: the DenoiseRep baseline.
# Paper (method.md section 6): 42.8 box AP; +DenoiseRep 44.3.
# Thin file: mmdet has no SwinV2 config; this is mmdet's Swin-T Mask R-CNN 1x (42.7 box AP) with the
# backbone swapped for mmpretrain's SwinV2-T (ImageNet-1k, 256px, window 8). No official checkpoint.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'

custom_imports = dict(imports=['mmpretrain.models'], allow_failed_imports=False)

pretrained = 'https://download.openmmlab.com/mmclassification/v0/swin-v2/swinv2-tiny-w8_3rdparty_in1k-256px_20220803-e318968f.pth'  # noqa: E501
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.SwinTransformerV2',
        arch='tiny',
        img_size=256,
        window_size=8,
        pad_small_map=True,  # detection inputs vary in size; stage 4 can be smaller than a window
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[96, 192, 384, 768]))
