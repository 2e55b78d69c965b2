# Faster R-CNN R50-FPN 1x on COCO: the DenoiseRep baseline, mmdet's stock config unchanged.
# Paper (method.md section 6): 37.4 -> 38.3 box AP with DenoiseRep; mmdet reports 37.4 for this config.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
