# DenoiseRep on LeNet-5 on Fashion-MNIST: the control config plus the method, its backbone wrapped and the
# DenoiseRep hook (phases of 1 epoch: denoise, then finetune; lambda 0.01, the authors' classification weight).
_base_ = './lenet5_control_fashion_mnist.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        example_input_shape=(2, 1, 32, 32)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.01, phases=('denoise', 'finetune'), interval=1)
]
