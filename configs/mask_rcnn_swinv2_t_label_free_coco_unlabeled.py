# Label-free DenoiseRep on Mask R-CNN SwinV2-T: the denoisers train on COCO's unlabeled2017 images (no
# annotation is read), from the trained baseline; only the denoise phase runs (the original network stays
# exactly as trained) and DenoiseRepHook runs only the backbone. Fuse the result with tools/fuse_ckpt.py;
# validation still uses the annotated val2017.
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
custom_hooks = [dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise',), interval=3)]
