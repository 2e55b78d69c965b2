# TransReID's ViT-B/16 baseline (ViT-BoT) on CUHK03 (new protocol, labeled) at 256x128: the Market-1501 baseline's
# recipe on this dataset (project recipe: damo-cv/TransReID ships no CUHK03 yml; configs/Market/vit_base.yml with the
# data changed, as RG12138/DenoiseRep's configs/cuhk03 ymls are their Market-1501 ones). CUHK03 in the new protocol
# (Zhong et al. 2017; 767 training / 700 test identities), the labeled boxes (the paper's CUHK03-L); variant='detected'
# for the detected ones.
_base_ = './transreid_vit_b_market1501.py'

num_identities = 767
model = dict(head=dict(num_classes=num_identities))
data_preprocessor = dict(num_classes=num_identities)
dataset_type = 'mmdenoiserep.CUHK03'
data_root = 'data/cuhk03/cuhk03-np'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, variant='labeled'))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, variant='labeled'))
test_dataloader = val_dataloader
