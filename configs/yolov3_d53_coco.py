# YOLOv3 DarkNet-53 320px 273e on COCO: the DenoiseRep baseline, mmdet's stock config unchanged.
# Paper (method.md section 6): 27.9 -> 28.4 box AP with DenoiseRep; mmdet reports 27.9 for this config.
_base_ = 'mmdet::yolo/yolov3_d53_8xb8-320-273e_coco.py'
