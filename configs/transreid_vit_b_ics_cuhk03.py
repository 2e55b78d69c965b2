# TransReID* ViT-B/16 (stride 12, SIE, JPM; the slides' "ViT-base-ics") on CUHK03 (new protocol, labeled) at 256x128:
# the Market-1501 baseline's recipe on this dataset (project recipe: damo-cv/TransReID ships no CUHK03 yml;
# configs/Market/vit_transreid_stride.yml with the data changed, as RG12138/DenoiseRep's configs/cuhk03 ymls are their
# Market-1501 ones). CUHK03 in the new protocol (Zhong et al. 2017; 767 training / 700 test identities), the labeled
# boxes (the paper's CUHK03-L); variant='detected' for the detected ones.
# SIE: the new protocol's 2 cameras (c1/c2 of each pair: the dataset's num_train_cams).
_base_ = './transreid_vit_b_ics_market1501.py'

num_identities = 767
num_cameras = 2
model = dict(backbone=dict(num_cameras=num_cameras), head=dict(num_classes=num_identities))
data_preprocessor = dict(num_classes=num_identities)
dataset_type = 'mmdenoiserep.CUHK03'
data_root = 'data/cuhk03/cuhk03-np'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, variant='labeled'))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, variant='labeled'))
test_dataloader = val_dataloader
