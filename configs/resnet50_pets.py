# ResNet-50 fine-tuned on Oxford-IIIT Pet (37 classes): the DenoiseRep baseline. Thin file: the CUB baseline
# (resnet50_cub.py: mmpretrain's resnet50_8xb8_cub, ImageNet-21k initialisation, 448px, SGD, 100 epochs) on
# mmpretrain's OxfordIIITPet dataset, trainval -> test. Paper: DenoiseRep reports Oxford-Pet for ResNet-50, but
# method.md section 6 gives no figure.
# Total batch 64 = 8 GPUs x 8 images, seed 0, fp32: the CUB baseline's.
_base_ = './resnet50_cub.py'

model = dict(head=dict(num_classes=37))
data_preprocessor = dict(num_classes=37)
train_dataloader = dict(dataset=dict(type='OxfordIIITPet', data_root='data/Oxford-IIIT_Pets', split='trainval'))
val_dataloader = dict(dataset=dict(type='OxfordIIITPet', data_root='data/Oxford-IIIT_Pets', split='test'))
test_dataloader = val_dataloader
