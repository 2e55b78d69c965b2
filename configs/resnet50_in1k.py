# ResNet-50 on ImageNet-1k (100 epochs): the DenoiseRep baseline, mmpretrain's stock config unchanged.
# Paper (method.md section 6): acc@1 76.13 -> 76.28 with DenoiseRep. 76.13 is torchvision's ResNet-50
# figure; no stock mmpretrain config reports it: this is the closest (mmpretrain reports 76.55).
_base_ = 'mmpretrain::resnet/resnet50_8xb32_in1k.py'
