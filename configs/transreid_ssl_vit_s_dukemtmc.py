# TransReID-SSL ViT-S/16 on DukeMTMC-reID: the Market-1501 baseline's recipe on this dataset.
_base_ = './transreid_ssl_vit_s_market1501.py'

num_identities = 702
model = dict(head=dict(num_classes=num_identities))
data_preprocessor = dict(num_classes=num_identities)
dataset_type = 'mmdenoiserep.DukeMTMCReID'
data_root = 'data/dukemtmc-reid/DukeMTMC-reID'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
