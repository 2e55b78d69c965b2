# ViT-B/16 fine-tuned on Oxford Flowers-102: the DenoiseRep baseline. Thin file: the CUB baseline
# (vit_b16_cub.py) on mmpretrain's Flowers102 dataset, trainval -> test. Paper: DenoiseRep reports
# Flowers, but method.md section 6 gives no figure.
# Total batch 64 = 8 GPUs x 8 images, seed 0, fp32: the CUB baseline's.
# Total batch 64 = 8 GPUs x 8 images, seed 0, fp32: the CUB baseline's.
_base_ = './vit_b16_cub.py'

model = dict(head=dict(num_classes=102))
data_preprocessor = dict(num_classes=102)
train_dataloader = dict(dataset=dict(type='Flowers102', data_root='data/Flowers102', split='trainval'))
val_dataloader = dict(dataset=dict(type='Flowers102', data_root='data/Flowers102', split='test'))
test_dataloader = val_dataloader
