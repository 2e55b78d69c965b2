# DenoiseRep on Mask R-CNN SwinV2-T: the baseline config with its backbone wrapped, the DenoiseRep hook,
# and training that starts from the trained baseline checkpoint.
_base_ = './mask_rcnn_swinv2_t_coco.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        example_input_shape=(1, 3, 256, 256)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'), interval=3)
]
find_unused_parameters = True  # the frozen part changes between phases (see DenoiseRepHook)
load_from = 'work_dirs/mask_rcnn_swinv2_t_coco/epoch_12.pth'  # the trained baseline
