# ViT-B/16 on Market-1501 at 256x128: TransReID-SSL's ViT-B baseline (transreid_pytorch/configs/market/
# vit_base_baseline.yml) on the ViT-S recipe of ./transreid_ssl_vit_s_market1501.py: the same BNNeck head,
# losses, data and 120-epoch schedule, from an ImageNet checkpoint (the yml: timm's ImageNet-21k -> 1k ViT-B/16;
# here mmpretrain's conversion of it, its 384x384 position embedding resized to the 16 x 8 patch grid on
# load) with the yml's SGD lr 8e-3. The paper reports no ViT-B re-id figure. (TransReID-SSL's LUPerson ViT-B
# adds a convolutional stem (STEM_CONV, "ICS"), which mmpretrain's VisionTransformer does not have.)
_base_ = './transreid_ssl_vit_s_market1501.py'

imagenet = 'https://download.openmmlab.com/mmclassification/v0/vit/finetune/vit-base-p16_in21k-pre-3rdparty_ft-64xb64_in1k-384_20210928-98e8652b.pth'  # noqa: E501
model = dict(
    backbone=dict(arch='b', init_cfg=dict(checkpoint=imagenet, prefix='backbone')),  # 768 channels, 12 heads
    head=dict(in_channels=768))
optim_wrapper = dict(optimizer=dict(lr=8e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=100, eta_min=1.6e-5, by_epoch=True, begin=20, end=120),
]
