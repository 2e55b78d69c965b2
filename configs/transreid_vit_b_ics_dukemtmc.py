# TransReID* ViT-B/16 (stride 12, SIE, JPM; the slides' "ViT-base-ics") on DukeMTMC-reID at 256x128: the Market-1501
# baseline's recipe on this dataset (damo-cv/TransReID configs/DukeMTMC/vit_transreid_stride.yml: Market's with the data
# changed).
# SIE: 8 training cameras (the dataset's num_train_cams).
_base_ = './transreid_vit_b_ics_market1501.py'

num_identities = 702
num_cameras = 8
model = dict(backbone=dict(num_cameras=num_cameras), head=dict(num_classes=num_identities))
data_preprocessor = dict(num_classes=num_identities)
dataset_type = 'mmdenoiserep.DukeMTMCReID'
data_root = 'data/dukemtmc-reid/DukeMTMC-reID'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
