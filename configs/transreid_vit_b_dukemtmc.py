# TransReID's ViT-B/16 baseline (ViT-BoT) on DukeMTMC-reID at 256x128: the Market-1501 baseline's recipe on this dataset
# (damo-cv/TransReID configs/DukeMTMC/vit_base.yml: Market's with the data changed).
_base_ = './transreid_vit_b_market1501.py'

num_identities = 702
model = dict(head=dict(num_classes=num_identities))
data_preprocessor = dict(num_classes=num_identities)
dataset_type = 'mmdenoiserep.DukeMTMCReID'
data_root = 'data/dukemtmc-reid/DukeMTMC-reID'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
