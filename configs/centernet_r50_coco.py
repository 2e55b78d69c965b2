# CenterNet-update R50-caffe-FPN ms-1x on COCO: the DenoiseRep baseline, mmdet's stock config unchanged.
# Paper (method.md section 6): 40.2 -> 40.6 box AP with DenoiseRep; mmdet reports 40.2 for this config.
_base_ = 'mmdet::centernet/centernet-update_r50-caffe_fpn_ms-1x_coco.py'
