# ATSS R50-FPN 1x on COCO: the DenoiseRep baseline, mmdet's stock config unchanged.
# Paper (method.md section 6): 39.4 -> 39.9 box AP with DenoiseRep; mmdet reports 39.4 for this config.
_base_ = 'mmdet::atss/atss_r50_fpn_1x_coco.py'
