# DenoiseRep on FCN R50-D8 (mmseg), ADE20K 512x512, starting from the official 80k-iteration baseline.
# Baseline config: mmseg::fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py (fused checkpoints load into it).
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        example_input_shape=(1, 3, 512, 512)))

# Extra schedule: 40k iterations, phases of 10k iterations (denoise, finetune, denoise, finetune).
train_cfg = dict(max_iters=40000, val_interval=4000)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=40000, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=4000))
custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'),
         interval=10000, by_epoch=False)
]
find_unused_parameters = True
load_from = 'https://download.openmmlab.com/mmsegmentation/v0.5/fcn/fcn_r50-d8_512x512_80k_ade20k/fcn_r50-d8_512x512_80k_ade20k_20200614_144016-f8ac5082.pth'  # noqa: E501
