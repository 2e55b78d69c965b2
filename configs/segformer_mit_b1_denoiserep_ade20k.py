# DenoiseRep on SegFormer MiT-b1 160k, ADE20K: the control config plus the method, its backbone wrapped and the
# DenoiseRep hook (phases of 8k iterations, as the IterBasedTrainLoop counts: denoise, then finetune;
# lambda 0.1). Paper (method.md section 6): small gains with DenoiseRep, no figure.
_base_ = './segformer_mit_b1_control_ade20k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        example_input_shape=(1, 3, 512, 512)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'), interval=8000)
]
