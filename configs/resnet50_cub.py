# ResNet-50 fine-tuned on CUB-200-2011: the DenoiseRep baseline, mmpretrain's stock config (resnet50_8xb8_cub:
# resize to 600, crop 448, SGD 0.01 with Nesterov, wd 5e-4, 5 warm-up epochs then cosine, 100 epochs) with the
# seed of the control and DenoiseRep runs. Initialised, as the stock config, from mmpretrain's conversion of
# Alibaba-MIIL's ImageNet-21k ResNet-50 (resnet50_3rdparty-mill_in21k_20220331-faac000b.pth), not from an
# ImageNet-1k model: this is mmpretrain's one ResNet-50 CUB recipe, and the one with a published result and
# checkpoint (88.45 acc@1, resnet50_8xb8_cub_20220307-57840e60.pth, where the control starts).
# Paper: DenoiseRep reports CUB-200 for ResNet-50, but method.md section 6 gives no figure.
# Trained on 8 GPUs x 8 images: total batch 64, the batch of the cub_bs64 schedule's LR; seed 0; fp32.
_base_ = ['mmpretrain::resnet/resnet50_8xb8_cub.py', './_base_/denoiserep_runtime.py']
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

auto_scale_lr = dict(base_batch_size=64)  # 8 GPUs x 8 images
randomness = dict(seed=0, deterministic=False)  # the same seed in baseline, control and DenoiseRep
