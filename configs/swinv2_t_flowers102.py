# SwinV2-T fine-tuned on Oxford Flowers-102: the DenoiseRep baseline. Thin file: the CUB baseline (swinv2_t_cub.py:
# mmpretrain's ImageNet-1k SwinV2-T, window 8, at 384px, SGD, 100 epochs) on mmpretrain's Flowers102 dataset,
# trainval -> test. Paper: DenoiseRep reports Flowers for SwinV2-T, but method.md section 6 gives no figure.
# Total batch 64 = 8 GPUs x 8 images, seed 0, fp32: the CUB baseline's.
_base_ = './swinv2_t_cub.py'

model = dict(head=dict(num_classes=102))
data_preprocessor = dict(num_classes=102)
train_dataloader = dict(dataset=dict(type='Flowers102', data_root='data/Flowers102', split='trainval'))
val_dataloader = dict(dataset=dict(type='Flowers102', data_root='data/Flowers102', split='test'))
test_dataloader = val_dataloader
