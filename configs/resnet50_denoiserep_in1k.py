# DenoiseRep on ResNet-50, ImageNet-1k: the control config plus the method, its backbone wrapped
# and the DenoiseRep hook (phases of 10 epochs: denoise, then finetune; lambda 0.01 for classification).
# Paper (method.md section 6): acc@1 76.13 -> 76.28.
_base_ = './resnet50_control_in1k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        example_input_shape=(1, 3, 224, 224)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.01, phases=('denoise', 'finetune'), interval=10)
]
