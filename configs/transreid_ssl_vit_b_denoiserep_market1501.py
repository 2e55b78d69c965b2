# DenoiseRep on TransReID-SSL ViT-B/16 on Market-1501: the control config plus the method, its backbone wrapped and
# the DenoiseRep hook (phases of 10 epochs: denoise, then finetune; lambda 0.1, the authors' re-id weight).
_base_ = './transreid_ssl_vit_b_control_market1501.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        example_input_shape=(1, 3, 256, 128)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'), interval=10)
]
