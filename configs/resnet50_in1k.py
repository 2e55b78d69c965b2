# ResNet-50 on ImageNet-1k: the DenoiseRep baseline, mmpretrain's stock config (100 epochs, SGD 0.1, 8 GPUs x 32)
# with the seed of the control and DenoiseRep runs.
# Paper (method.md section 6): acc@1 76.13 -> 76.28 with DenoiseRep. The paper's baseline model is torchvision's
# ResNet-50 V1 weights (ResNet50_Weights.IMAGENET1K_V1, https://download.pytorch.org/models/resnet50-0676ba61.pth,
# 76.13 / 92.862 as torchvision reports them): this config's architecture, with the same state_dict names. Its
# 76.13 is measured with torchvision's own test transform: PIL decode, resize of the short edge to 256 (bilinear,
# anti-aliased), center crop 224, mean/std (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225). mmpretrain's test
# pipeline (mmpretrain::resnet/resnet50_8xb32_in1k.py, from _base_/datasets/imagenet_bs32.py) matches it in
# geometry and normalisation (ResizeEdge(256, edge='short'), truncated long edge, CenterCrop(224), mean/std x 255)
# but not in the pixels: cv2 decode and cv2 bilinear resize, which does not anti-alias when shrinking, so its
# acc@1 of these weights can differ from 76.13 by a little (not measured here). To evaluate the paper's baseline:
#   wget https://download.pytorch.org/models/resnet50-0676ba61.pth
#   python tools/model_converters/torchvision_resnet_to_mmpretrain.py resnet50-0676ba61.pth \
#       pretrain/resnet50_torchvision_in1k.pth
#   python tools/test.py configs/resnet50_in1k.py pretrain/resnet50_torchvision_in1k.pth
# and, for torchvision's pixels (PIL decode, PIL's anti-aliased bilinear), add
#   --cfg-options test_dataloader.dataset.pipeline.0.imdecode_backend=pillow \
#       test_dataloader.dataset.pipeline.1.backend=pillow
# Trained with this config instead, mmpretrain reports 76.55 (resnet50_8xb32_in1k_20210831-ea4938fc.pth).
_base_ = ['mmpretrain::resnet/resnet50_8xb32_in1k.py', './_base_/denoiserep_runtime.py']
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks

randomness = dict(seed=0, deterministic=False)  # the same seed in baseline, control and DenoiseRep
