# TransReID* ViT-B/16 (He et al., ICCV 2021: the ViT baseline plus overlapping patches at stride 12, SIE and JPM) on
# Market-1501 at 256x128: the DenoiseRep re-id baseline of the paper's "TransReID ViT-base-ics" rows. The slides' label
# "ics" is not an ICS convolution stem (TransReID-SSL's, pre-trained only on LUPerson; no public ImageNet ICS checkpoint
# exists): their figures (MSMT17 67.70/85.30, Market 89.00/95.10, Duke 82.20/90.70 mAP/R1) are TransReID's README
# "TransReID*(ViT)" row (67.8/85.3, 89.0/95.1, 82.2/90.7: Market and Duke exactly), TransReID* with the sliding-window
# (overlapping, stride 12) patch embedding. Thin file: no OpenMMLab toolbox has a re-id config. Recipe: authors' code
# damo-cv/TransReID configs/Market/vit_transreid_stride.yml (with config/defaults.py, model/make_model.py
# build_transformer_local, model/backbones/vit_pytorch.py, loss/make_loss.py), point by point: the ViT baseline's recipe
# (./transreid_vit_b_market1501.py; vit_base.yml has the same keys but these) with
# - STRIDE_SIZE [12, 12]: overlapping 16x16 patches at stride 12, a 21 x 10 grid (the ImageNet 14 x 14 position grid
#   resized bilinearly to it on load);
# - SIE_CAMERA True, SIE_COE 3.0 (SIE_VIEW False): a learned embedding per training camera (Market-1501: 6, the
#   dataset's num_train_cams), 3.0 x it added to every token with the position embedding, in training and test
#   (processor.py passes cam_label to the model; mmdenoiserep.ReIDClassifier hands each sample's camid to the backbone);
# - JPM True, RE_ARRANGE True, defaults.py SHIFT_NUM 5, SHUFFLE_GROUP 2, DEVIDE_LENGTH 4: the last block and the final
#   norm as the global branch and a copy of them as the local branch over 4 shifted and shuffled patch groups, each
#   with the class token; 5 BNNeck heads, ID and triplet losses 0.5 global + 0.5 mean of the 4 local ones
#   (make_loss.py), test feature [global, local_k / 4] before the norms (NECK_FEAT 'before'), 3840 channels.
_base_ = './transreid_vit_b_market1501.py'

num_cameras = 6  # Market-1501 training cameras (TransReID: dataset.num_train_cams)
model = dict(
    type='mmdenoiserep.ReIDClassifier',
    backbone=dict(
        stride_size=12,  # STRIDE_SIZE [12, 12]
        num_cameras=num_cameras,  # SIE_CAMERA True
        num_views=0,  # SIE_VIEW False
        sie_coefficient=3.0,  # SIE_COE
        jpm=dict(shift_num=5, shuffle_groups=2, divide_length=4, rearrange=True)),  # JPM, SHIFT_NUM, ..., RE_ARRANGE
    head=dict(
        _delete_=True,
        type='mmdenoiserep.JPMHead',
        in_channels=768,
        num_classes={{_base_.num_identities}},
        num_local=4,  # DEVIDE_LENGTH (build_transformer_local: 4 local classifiers and BNNecks)
        label_smooth=0.0,  # yml: IF_LABELSMOOTH 'off'
        triplet_margin=None,  # soft margin (yml: NO_MARGIN True)
        loss_weights=(1.0, 1.0),  # defaults.py: ID_LOSS_WEIGHT, TRIPLET_LOSS_WEIGHT
        test_feature='before_bn'))  # yml: NECK_FEAT 'before'

# schedule: the baseline's (vit_transreid_stride.yml has vit_base.yml's SOLVER keys); the JPM local branch's norm bias
# joins the LayerNorm biases at lr x2 (make_optimizer.py: every name holding 'bias').
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=0.008, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(bias_lr_mult=2.0, custom_keys={
        'ln1.bias': dict(lr_mult=2.0), 'ln2.bias': dict(lr_mult=2.0), 'jpm_norm.bias': dict(lr_mult=2.0)}))
param_scheduler = [
    dict(type='mmdenoiserep.TimmCosineLR', t_initial=120, t_offset=1, warmup_t=5, warmup_lr_init=0.01 * 0.008,
         lr_min=0.002 * 0.008, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=64)  # the yml's IMS_PER_BATCH (global)
randomness = dict(seed=1234, deterministic=False)  # defaults.py: SOLVER.SEED
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=120)  # MAX_EPOCHS, EVAL_PERIOD
default_hooks = dict(checkpoint=dict(interval=120))  # CHECKPOINT_PERIOD
