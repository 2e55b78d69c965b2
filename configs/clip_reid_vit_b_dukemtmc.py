# CLIP-ReID ViT-B/16 (SIE + OLP) on DukeMTMC-reID: the Market-1501 baseline's recipe on this dataset (CLIP-ReID's
# configs/person/vit_clipreid.yml serves every person dataset; DATASETS.NAMES 'dukemtmc').
_base_ = './clip_reid_vit_b_market1501.py'

num_identities = 702
num_cameras = 8  # DukeMTMC-reID training cameras (SIE)
model = dict(num_classes=num_identities, backbone=dict(num_cameras=num_cameras))
data_preprocessor = dict(num_classes=num_identities)
dataset_type = 'mmdenoiserep.DukeMTMCReID'
data_root = 'data/dukemtmc-reid/DukeMTMC-reID'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(prompt_dataloader=dict(dataset=dict(type=dataset_type, data_root=data_root)))
