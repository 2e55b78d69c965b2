# DenoiseRep on ResNet-50, ImageNet-1k: the control config plus the method (its backbone wrapped, the DenoiseRep
# hook). Paper (method.md section 6): acc@1 76.13 -> 76.28, from torchvision's ResNet-50 V1 weights (the control's
# load_from, converted with tools/model_converters/torchvision_resnet_to_mmpretrain.py).
# Recipe: project recipe (the authors published no DenoiseRep code for ResNet/ImageNet). The authors' rule for
# CNNs (denoiserep_op convert_denoise_conv2d: every Conv2d with an odd kernel; ResNet-50: the 7x7 stem, the 1x1
# and 3x3 convs of the 16 bottlenecks and the 4 downsample convs, 53 layers; preset 'authors'), lambda 0.01 (the
# authors' weight for classification), the paper's loss over every position, two phases of 10 epochs (the
# authors' K) starting with denoise at epoch 0 (denoise 0-9, finetune 10-19), the control's optimizer with the
# denoisers at LR x 100 and no weight decay. Summed denoiser LR over the denoise phases: 4.22e4 (8.43 x 5,005
# iterations per epoch at 256 images).
# Not copied from the authors' code (method.md sections 4-5): the random term and in-place refusion of their
# fuse_parameters at every checkpoint; their per-module restart of the step numbering (here global).
_base_ = './resnet50_control_in1k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdenoiserep.DenoiseRepBackbone',
        backbone={{_base_.model.backbone}},
        preset='authors',
        example_input_shape=(1, 3, 224, 224)))

custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.01, phases=('denoise', 'finetune'), interval=10, offset=0,
         by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
