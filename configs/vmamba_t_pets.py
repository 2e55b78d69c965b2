# VMamba-T fine-tuned on Oxford-IIIT Pet (37 classes): the DenoiseRep baseline. Thin file: the CUB baseline
# (vmamba_t_cub.py: the official ImageNet-1k VMamba-T at 384px, SGD, 100 epochs) on mmpretrain's
# OxfordIIITPet dataset, trainval -> test. Paper: DenoiseRep reports Oxford-Pet for VMamba-T, but the seeds give
# no figure.
# Total batch 64 = 8 GPUs x 8 images, seed 0, fp32: the CUB baseline's.
_base_ = './vmamba_t_cub.py'

model = dict(head=dict(num_classes=37))
data_preprocessor = dict(num_classes=37)
train_dataloader = dict(dataset=dict(type='OxfordIIITPet', data_root='data/Oxford-IIIT_Pets', split='trainval'))
val_dataloader = dict(dataset=dict(type='OxfordIIITPet', data_root='data/Oxford-IIIT_Pets', split='test'))
test_dataloader = val_dataloader
