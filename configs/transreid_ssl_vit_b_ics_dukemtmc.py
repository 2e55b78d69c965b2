# TransReID-SSL ViT-B/16+ICS on DukeMTMC-reID at 384x128: the Market-1501 baseline's recipe on this dataset
# (damo-cv/TransReID-SSL ships no DukeMTMC yml; RG12138/DenoiseRep's configs/dukemtmc/vit_base_ics_384.yml is their
# Market-1501 one with the dataset changed).
_base_ = './transreid_ssl_vit_b_ics_market1501.py'

num_identities = 702
model = dict(head=dict(num_classes=num_identities))
data_preprocessor = dict(num_classes=num_identities)
dataset_type = 'mmdenoiserep.DukeMTMCReID'
data_root = 'data/dukemtmc-reid/DukeMTMC-reID'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
