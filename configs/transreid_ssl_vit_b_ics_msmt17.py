# TransReID-SSL ViT-B/16+ICS on MSMT17 at 384x128: the Market-1501 baseline's recipe on this dataset.
# MSMT17_V1: trains on list_train + list_val, as TransReID-SSL (its yml: configs/msmt17/vit_base_ics_384.yml, the
# Market-1501 recipe with the dataset changed).
_base_ = './transreid_ssl_vit_b_ics_market1501.py'

num_identities = 1041
model = dict(head=dict(num_classes=num_identities))
data_preprocessor = dict(num_classes=num_identities)
dataset_type = 'mmdenoiserep.MSMT17'
data_root = 'data/msmt17/MSMT17_V1'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
