# DenoiseRep on Mask R-CNN SwinV2-T, COCO: the control config plus the method, its backbone wrapped and
# the DenoiseRep hook (phases of 3 epochs: denoise, then finetune; lambda 0.1 for detection).
# Paper (method.md section 6): 42.8 -> 44.3 box AP.
_base_ = './mask_rcnn_swinv2_t_control_coco.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        example_input_shape=(1, 3, 256, 256)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'), interval=3)
]
