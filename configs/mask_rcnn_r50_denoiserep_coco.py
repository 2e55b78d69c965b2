# DenoiseRep on Mask R-CNN R50-FPN, COCO: the control config plus the method, its backbone wrapped and the
# DenoiseRep hook (phases of one 3x-schedule epoch: denoise, then finetune; lambda 0.1 for detection).
# Paper (method.md section 6): 42.6 -> 43.2 box AP.
_base_ = './mask_rcnn_r50_control_coco.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        example_input_shape=(1, 3, 224, 224)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'), interval=1)
]
