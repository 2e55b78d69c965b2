# ResNet-50, ImageNet-1k, control: the extra training of the DenoiseRep run, without denoising.
# Recipe: project recipe (the authors published no DenoiseRep code for ResNet/ImageNet). From the paper's baseline,
# torchvision's ResNet-50 V1 weights (76.13; see resnet50_in1k.py), converted once with
#   wget https://download.pytorch.org/models/resnet50-0676ba61.pth
#   python tools/model_converters/torchvision_resnet_to_mmpretrain.py resnet50-0676ba61.pth \
#       pretrain/resnet50_torchvision_in1k.pth
# 20 epochs (two phases of K = 10 epochs, the authors' K), total batch 256 = 8 GPUs x 32 (the baseline's
# 8xb32; auto_scale_lr's base), SGD at 1/10 of the baseline's LR (0.01, momentum 0.9, weight decay 1e-4, no
# Nesterov), cosine-annealed to 0 over the 20 epochs (stepped per epoch, no warm-up), seed 0 (as the baseline),
# no AMP, no gradient clipping; data, augmentation (RandomResizedCrop 224, flip) and loss (cross-entropy) are the
# baseline's. The denoisers (the DenoiseRep run's only extra Parameters; none here, so the two keys change nothing
# in this control) get an LR and a weight decay of their own (the DenoiseRep config differs only by the method):
# Denoiser LR: denoiser_lr_mult = 100 (peak 1.0), no weight decay (custom_keys '.denoiser.': decay_mult 0).
# Why: the noise-loss gradient per denoiser entry is lambda (0.01) x about 1/C of a feature correlation, so at the
# task LR they barely move (x 10-100 needed; x 100 taken, stable: peak LR x the largest curvature, about lambda x
# the input's second moment / C, is far below 2), and a weight decay of 1e-4 outweighs that loss's curvature along
# the near-constant feature directions where an affine denoiser can gain (method.md section 7), about
# lambda s^2 / C, holding them near 0 at any LR.
# Summed denoiser LR over the denoise phases: 4.22e4 (1.0 x (1 + cos(pi e / 20)) / 2 summed over epochs e = 0-9,
# 8.43, x 5,005 iterations per epoch at 256 images). A toy check (SGD as here on C = 64 channels, 1/8 of them
# near-constant, s = 0.1, this schedule): loss / zero predictor's 0.99 at x 1, 0.97 at x 10, 0.90 at x 100, and
# 0.99 at x 10 or x 100 with weight decay 1e-4; at C = 256, s = 0.05: 1.00 at x 10, 0.98 at x 100.
_base_ = './resnet50_in1k.py'

train_dataloader = dict(batch_size=32)  # per GPU, 8 GPUs: 256 in all
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=False),
    constructor='mmdenoiserep.DenoiseRepOptimWrapperConstructor',
    paramwise_cfg=dict(denoiser_lr_mult=100.0, custom_keys={'.denoiser.': dict(decay_mult=0.0)}))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=20, eta_min=0.0, by_epoch=True, begin=0, end=20)]
auto_scale_lr = dict(base_batch_size=256)
randomness = dict(seed=0, deterministic=False)
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=1)
find_unused_parameters = True  # the DDP settings of the DenoiseRep run
load_from = 'pretrain/resnet50_torchvision_in1k.pth'  # torchvision's resnet50-0676ba61.pth, converted (above)
