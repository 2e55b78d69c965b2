# VMamba-T fine-tuned on Oxford Flowers-102: the DenoiseRep baseline. Thin file: the CUB baseline (vmamba_t_cub.py:
# the official ImageNet-1k VMamba-T at 384px, SGD, 100 epochs) on mmpretrain's Flowers102 dataset,
# trainval -> test. Paper: DenoiseRep reports Flowers for VMamba-T, but the seeds give no figure.
# Total batch 64 = 8 GPUs x 8 images, seed 0, fp32: the CUB baseline's.
_base_ = './vmamba_t_cub.py'

model = dict(head=dict(num_classes=102))
data_preprocessor = dict(num_classes=102)
train_dataloader = dict(dataset=dict(type='Flowers102', data_root='data/Flowers102', split='trainval'))
val_dataloader = dict(dataset=dict(type='Flowers102', data_root='data/Flowers102', split='test'))
test_dataloader = val_dataloader
