# Label-free DenoiseRep on Mask R-CNN SwinV2-T: the denoisers train on COCO's unlabeled2017 images (no annotation is
# read), from the trained baseline; only the denoise phase runs (the original network stays exactly as trained) and
# DenoiseRepHook runs only the backbone. Fuse the result with tools/fuse_ckpt.py; validation still uses the annotated
# val2017.
# Recipe: project recipe (the authors published no DenoiseRep code for detection): the DenoiseRep config's layers
# (preset 'authors', 48), lambda 0.1, optimizer, denoiser LR (1e-3, AdamW, undecayed), seed 0 and total batch 16 = 8
# GPUs x 2; 3 epochs of denoise (interval 3, offset 0, by epoch), the paper's loss over every position (loss_positions
# 1.0).
# Summed denoiser LR over the denoise phase: 1e-3 x 3 epochs x 7,713 iterations = 23 (unlabeled2017: 123,403 images /
# 16 = about 7,713 iterations per epoch).
_base_ = './mask_rcnn_swinv2_t_denoiserep_coco.py'

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(
    dataset=dict(_delete_=True, type='mmdenoiserep.UnlabeledImageFolder', data_root='data/coco/',
                 data_prefix=dict(img_path='unlabeled2017/'), pipeline=train_pipeline),
    batch_sampler=None)  # no aspect-ratio grouping: the images carry no size annotation
train_cfg = dict(max_epochs=3, val_interval=3)
custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise',), interval=3, offset=0, by_epoch=True,
         loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
]
