# TransReID's ViT-B/16 baseline (ViT-BoT) on MSMT17 at 256x128: the Market-1501 baseline's recipe on this dataset (damo-
# cv/TransReID configs/MSMT17/vit_base.yml: Market's with the data changed).
# MSMT17_V1: trains on list_train + list_val, as TransReID's datasets/msmt17.py.
_base_ = './transreid_vit_b_market1501.py'

num_identities = 1041
model = dict(head=dict(num_classes=num_identities))
data_preprocessor = dict(num_classes=num_identities)
dataset_type = 'mmdenoiserep.MSMT17'
data_root = 'data/msmt17/MSMT17_V1'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
