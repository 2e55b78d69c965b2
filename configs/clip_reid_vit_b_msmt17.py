# CLIP-ReID ViT-B/16 (SIE + OLP) on MSMT17: the Market-1501 baseline's recipe on this dataset (CLIP-ReID's
# configs/person/vit_clipreid.yml serves every person dataset; DATASETS.NAMES 'msmt17').
# MSMT17_V1: trains on list_train + list_val, as CLIP-ReID's datasets/msmt17.py.
_base_ = './clip_reid_vit_b_market1501.py'

num_identities = 1041
num_cameras = 15  # MSMT17 training cameras (SIE)
model = dict(num_classes=num_identities, backbone=dict(num_cameras=num_cameras))
data_preprocessor = dict(num_classes=num_identities)
dataset_type = 'mmdenoiserep.MSMT17'
data_root = 'data/msmt17/MSMT17_V1'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(prompt_dataloader=dict(dataset=dict(type=dataset_type, data_root=data_root)))
