# Mask R-CNN R50-FPN on COCO: the DenoiseRep baseline, mmdet's stock config unchanged.
# Paper (method.md section 6): 42.6 box AP; +DenoiseRep 43.2. No stock R50-FPN Mask R-CNN config reports
# 42.6: this is the closest one with an official checkpoint (multi-scale, poly masks, 3x: 40.9 box AP).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_ms-poly-3x_coco.py'
