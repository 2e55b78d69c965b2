# TransReID-SSL ViT-S/16 on MSMT17: the Market-1501 baseline's recipe on this dataset.
# MSMT17_V1: trains on list_train + list_val, as TransReID-SSL (its yml: configs/msmt17/vit_small.yml, the
# same recipe as Market-1501's).
_base_ = './transreid_ssl_vit_s_market1501.py'

num_identities = 1041
model = dict(head=dict(num_classes=num_identities))
data_preprocessor = dict(num_classes=num_identities)
dataset_type = 'mmdenoiserep.MSMT17'
data_root = 'data/msmt17/MSMT17_V1'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
