# DETR R50 150e on COCO: the DenoiseRep baseline, mmdet's stock config unchanged.
# Paper (method.md section 6): 39.9 -> 40.8 box AP with DenoiseRep; mmdet reports 39.9 for this config.
_base_ = 'mmdet::detr/detr_r50_8xb2-150e_coco.py'
