# DenoiseRep on ViT-B/16 fine-tuned on CUB-200-2011: the control config plus the method, its backbone wrapped
# and the DenoiseRep hook (phases of 10 epochs: denoise, then finetune; lambda 0.01 for classification).
# Paper: method.md section 6 gives no figure for this dataset.
_base_ = './vit_b16_control_cub.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        example_input_shape=(1, 3, 384, 384)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.01, phases=('denoise', 'finetune'), interval=10)
]
