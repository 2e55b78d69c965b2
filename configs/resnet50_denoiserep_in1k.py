# DenoiseRep on ResNet-50 (mmpretrain), ImageNet-1k, starting from the official 100-epoch baseline.
# Baseline config: mmpretrain::resnet/resnet50_8xb32_in1k.py (fused checkpoints load into it).
_base_ = 'mmpretrain::resnet/resnet50_8xb32_in1k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}}))

# Extra schedule: 20 epochs, phases of 10 epochs (the authors' K = 10), lambda = 0.01 (classification).
train_cfg = dict(max_epochs=20)
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = dict(type='CosineAnnealingLR', T_max=20, by_epoch=True)
custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.01, phases=('denoise', 'finetune'), interval=10)
]
find_unused_parameters = True
load_from = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth'  # noqa: E501
