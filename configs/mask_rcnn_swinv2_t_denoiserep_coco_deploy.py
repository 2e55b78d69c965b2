# Deploy form of the DenoiseRep model: the plain backbone, for checkpoints written by tools/fuse_ckpt.py.
_base_ = './mask_rcnn_swinv2_t_denoiserep_coco.py'
model = dict(backbone=dict(deploy=True))
