# DenoiseRep on TransReID-SSL ViT-S/16 on Market-1501 with merged datasets (the paper's "Analysis of Label
# Informations", '+DenoiseRep (merged ds)'): the DenoiseRep config whose denoise phases train on the union of the four
# person re-id training sets' images (Market-1501, DukeMTMC-reID, MSMT17, CUHK03; no label read: DenoiseRepHook runs the
# backbone only there), and whose finetune phases train on Market-1501's labelled identity batches, as the DenoiseRep
# row's. mmdenoiserep.PhaseTrainDataHook swaps the training set at the phase changes that DenoiseRepHook decides (one
# schedule: the loader of an epoch is a function of the epoch, exact under --resume).
# Phase schedule (the DenoiseRep row's, 1-based epochs): 1-9 denoise on the union, 10-19 finetune on Market-1501, 20-29
# denoise, ..., 230-239 finetune, 240 denoise: 120 denoise epochs of 543 iterations (69,447 images / 128: Market-1501
# 12,936 + DukeMTMC-reID 16,522 + MSMT17 train + val 32,621 + CUHK03 labeled 7,368; plain shuffle, the last batch
# partial) and 120 finetune epochs (12 phases) of Market-1501 identity batches.
# Recipe: project recipe: the authors' public code merges the four labelled training sets into one (their
# datasets/all.py, class ALL: identities offset, CUHK03 detected boxes, every phase on it) but publishes no run of it;
# here only the denoise phases, which need no label, see the union (its images only; CUHK03's labeled boxes, as the
# CUHK03 rows). All else is the DenoiseRep row's (the authors' RG12138/DenoiseRep configs/market/vit_small.yml stage):
# the 24 MLP Linear layers, lambda 0.1, the paper's loss over every position, phases of 10 epochs from epoch 1 (offset
# 1), SGD 1e-4 with the denoisers at lr x4, timm's cosine over 240 epochs, SOLVER.SEED 1234, global batch 128 in both
# phases.
# Summed denoiser LR over the denoise phase: 2.20e-2 x iterations per epoch = 12.0 (543 iterations; the DenoiseRep row's
# denoise phase: 2.20e-2 x its Market-1501 identity batches per epoch, at most 12,936 / 128).
_base_ = './transreid_ssl_vit_s_denoiserep_market1501.py'

train_dataloader = dict(batch_size=128)  # global, in both phases (PhaseTrainDataHook keeps the total batch)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1e-4, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(bias_lr_mult=2.0, denoiser_lr_mult=4.0))
auto_scale_lr = dict(base_batch_size=128)
randomness = dict(seed=1234, deterministic=False)  # defaults.py: SOLVER.SEED
reid_union_images = dict(type='ConcatDataset', datasets=[  # the four training sets' images, no labels
    dict(type='mmdenoiserep.UnlabeledImageFolder', data_root='data/market1501/Market-1501-v15.09.15',
         data_prefix=dict(img_path='bounding_box_train/'), pipeline={{_base_.train_pipeline}}),
    dict(type='mmdenoiserep.UnlabeledImageFolder', data_root='data/dukemtmc-reid/DukeMTMC-reID',
         data_prefix=dict(img_path='bounding_box_train/'), pipeline={{_base_.train_pipeline}}),
    dict(type='mmdenoiserep.UnlabeledImageFolder', data_root='data/msmt17/MSMT17_V1',
         data_prefix=dict(img_path='train/'), pipeline={{_base_.train_pipeline}}),  # list_train + list_val
    dict(type='mmdenoiserep.UnlabeledImageFolder', data_root='data/cuhk03/cuhk03-np',
         data_prefix=dict(img_path='labeled/bounding_box_train/'), pipeline={{_base_.train_pipeline}}),
])
custom_hooks = [
    dict(type='mmdenoiserep.DenoiseRepHook', loss_weight=0.1, phases=('denoise', 'finetune'), interval=10, offset=1,
         by_epoch=True, loss_positions=1.0),
    dict(type='mmdenoiserep.PhaseLoggingHook'),
    dict(type='mmdenoiserep.PhaseTrainDataHook', phase='denoise', dataset=reid_union_images),
]
