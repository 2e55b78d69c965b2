"""The TransReID rows (configs/transreid_vit_b{,_ics}_*.py) run TransReID's experiments and carry the authors' ViT-B
DenoiseRep stage over: each resolved config is checked against tables written out here from damo-cv/TransReID
(configs/<data>/vit_base.yml, vit_transreid_stride.yml, configs/VehicleID/vit_transreid_stride.yml,
config/defaults.py, datasets/make_dataloader.py; cited per key) and from RG12138/DenoiseRep
(Person-ReID/TransReID-SSL/transreid_pytorch/configs/<data>/vit_base_ics_384.yml); the optimizer groups and each
epoch's LR against re-implementations of make_optimizer.py and of the two epoch loops (TransReID's processor.py steps
timm's scheduler with the 1-based epoch before the epoch, TransReID-SSL's after it); SIE and JPM against the tiny
data of ``--tiny`` (camera ids packed in training and test, the patch grid of tiny images).
"""
import math

import pytest
import torch
from config_helpers import ROOT, load
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DATASETS, PARAM_SCHEDULERS, init_default_scope

from mmdenoiserep import denoiser_parameters, denoising_layers
from mmdenoiserep.apis import build_model
from mmdenoiserep.engine import DenoiseRepHook

#: damo-cv/TransReID configs/Market/vit_base.yml (DukeMTMC, MSMT17: the same but DATASETS.NAMES) + config/defaults.py
VIT_BASE = dict(
    base_lr=0.008,             # SOLVER.BASE_LR
    batch=64,                  # SOLVER.IMS_PER_BATCH (global)
    num_instance=4,            # DATALOADER.NUM_INSTANCE
    max_epochs=120,            # SOLVER.MAX_EPOCHS
    eval_period=120,           # SOLVER.EVAL_PERIOD
    checkpoint_period=120,     # SOLVER.CHECKPOINT_PERIOD
    warmup_epochs=5,           # defaults.py SOLVER.WARMUP_EPOCHS (the yml sets none)
    momentum=0.9,              # defaults.py SOLVER.MOMENTUM
    weight_decay=1e-4,         # SOLVER.WEIGHT_DECAY, WEIGHT_DECAY_BIAS
    bias_lr_factor=2,          # SOLVER.BIAS_LR_FACTOR
    seed=1234,                 # defaults.py SOLVER.SEED
    label_smooth=0.0,          # MODEL.IF_LABELSMOOTH 'off'
    loss_weights=(1.0, 1.0),   # defaults.py MODEL.ID_LOSS_WEIGHT, TRIPLET_LOSS_WEIGHT
    test_feature='before_bn',  # TEST.NECK_FEAT 'before'
    size=(256, 128),           # INPUT.SIZE_TRAIN / SIZE_TEST
    padding=10, flip=0.5, erase=0.5, mean=127.5, std=127.5,  # INPUT.PADDING, PROB, RE_PROB, PIXEL_MEAN/STD (x255)
    drop_path=0.1,             # defaults.py MODEL.DROP_PATH
    stride=16,                 # MODEL.STRIDE_SIZE
    sie_camera=False,          # defaults.py MODEL.SIE_CAMERA
    sie_coe=3.0,               # defaults.py MODEL.SIE_COE
    jpm=None,                  # defaults.py MODEL.JPM False
)
#: configs/<data>/vit_transreid_stride.yml: STRIDE_SIZE [12, 12], SIE_CAMERA True, SIE_COE 3.0, JPM True, RE_ARRANGE
#: True; defaults.py SHIFT_NUM 5, SHUFFLE_GROUP 2, DEVIDE_LENGTH 4.
TRANSREID_STRIDE = dict(VIT_BASE, stride=12, sie_camera=True,
                        jpm=dict(shift_num=5, shuffle_groups=2, divide_length=4, rearrange=True))
#: configs/VehicleID/vit_transreid_stride.yml: 256x256, SHIFT_NUM 8, BASE_LR 0.045, IMS_PER_BATCH 256, no SIE key.
VEHICLEID = dict(TRANSREID_STRIDE, base_lr=0.045, batch=256, size=(256, 256), sie_camera=False,
                 jpm=dict(shift_num=8, shuffle_groups=2, divide_length=4, rearrange=True))
#: TransReID's num_train_cams / num_train_pids (CUHK03: the new protocol's c1/c2 of this project's CUHK03).
CAMERAS = {'market1501': 6, 'dukemtmc': 8, 'msmt17': 15, 'cuhk03': 2, 'vehicleid': 1}
IDENTITIES = {'market1501': 751, 'dukemtmc': 702, 'msmt17': 1041, 'cuhk03': 767, 'vehicleid': 13164}
PERSON = ('market1501', 'dukemtmc', 'msmt17', 'cuhk03')
ROWS = {**{f'transreid_vit_b_{data}': (VIT_BASE, data) for data in PERSON},
        **{f'transreid_vit_b_ics_{data}': (TRANSREID_STRIDE, data) for data in PERSON},
        'transreid_vit_b_ics_vehicleid': (VEHICLEID, 'vehicleid')}
#: The authors' ViT-B DenoiseRep stage, RG12138/DenoiseRep configs/<data>/vit_base_ics_384.yml (the four equal but
#: for the data) + config/defaults.py, solver/make_optimizer.py, solver/scheduler_factory.py.
VIT_B_STAGE = dict(
    max_epochs=120,            # SOLVER.MAX_EPOCHS
    eval_period=120,           # SOLVER.EVAL_PERIOD
    base_lr=1e-4,              # SOLVER.BASE_LR
    batch=128,                 # SOLVER.IMS_PER_BATCH
    warmup_epochs=20,          # SOLVER.WARMUP_EPOCHS
    denoiser_lr_factor=4,      # make_optimizer.py: 'dm' parameters at BASE_LR * 4
    loss_weight=0.1,           # defaults.py MODEL.DIFFUSION_LOSS_WEIGHT
    ft_epoch=10,               # defaults.py TRAIN.FT_EPOCH
    seed=1234,                 # defaults.py SOLVER.SEED
)


def config(name: str) -> Config:
    return Config.fromfile(str(ROOT / 'configs' / f'{name}.py'))


def timm_cosine(t, base, t_initial, lr_min, warmup_t, warmup_lr_init):
    """timm's CosineLRScheduler._get_lr (solver/cosine_lr.py: cycle_limit 1, t_mul 1, warm-up inside the cosine)."""
    if t < warmup_t:
        return warmup_lr_init + t * (base - warmup_lr_init) / warmup_t
    if t >= t_initial:
        return lr_min
    return lr_min + 0.5 * (base - lr_min) * (1 + math.cos(math.pi * t / t_initial))


def authors_phases(epochs: int):
    """processor.py of RG12138/DenoiseRep: denoise first, at every epoch % FT_EPOCH == 0 (epochs from 1) finetune
    when epoch / FT_EPOCH is odd, denoise when even."""
    phases, state = [], 'denoise'
    for epoch in range(1, epochs + 1):
        if epoch % VIT_B_STAGE['ft_epoch'] == 0:
            state = 'finetune' if (epoch // VIT_B_STAGE['ft_epoch']) % 2 else 'denoise'
        phases.append(state)
    return phases


def epoch_lrs(cfg, model, epochs):
    """The LR of every param group in each epoch, from the config's optimizer and (per-epoch) schedulers."""
    wrapper_cfg = dict(cfg.optim_wrapper, type='OptimWrapper')  # AmpOptimWrapper needs a GPU; the groups are the same
    wrapper_cfg.pop('loss_scale', None)
    optim = build_optim_wrapper(model, wrapper_cfg)
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=optim)) for s in cfg.param_scheduler]
    lrs = []
    for _ in range(epochs):
        lrs.append([group['lr'] for group in optim.optimizer.param_groups])
        optim.step()
        for scheduler in schedulers:
            scheduler.step()
    return optim, lrs


@pytest.mark.parametrize('row', sorted(ROWS))
def test_transreid_baseline_is_the_yml(row):
    table, data = ROWS[row]
    cfg = config(row)
    opt = cfg.optim_wrapper.optimizer
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'  # processor.py: amp.autocast, GradScaler
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', table['base_lr'], table['momentum'],
                                                                   table['weight_decay'])
    assert cfg.optim_wrapper.paramwise_cfg.bias_lr_mult == table['bias_lr_factor']
    (scheduler,) = cfg.param_scheduler
    assert scheduler == dict(type='mmdenoiserep.TimmCosineLR', t_initial=table['max_epochs'],
                             warmup_t=table['warmup_epochs'], warmup_lr_init=0.01 * table['base_lr'],
                             lr_min=0.002 * table['base_lr'], by_epoch=True,
                             t_offset=1)  # scheduler_factory.py; processor.py: scheduler.step(epoch) first
    assert cfg.train_dataloader.batch_size == table['batch'] == cfg.auto_scale_lr.base_batch_size
    assert cfg.train_dataloader.batch_sampler.num_instances == table['num_instance']
    assert (cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval) == (table['max_epochs'], table['eval_period'])
    assert cfg.default_hooks.checkpoint.interval == table['checkpoint_period']
    assert cfg.randomness.seed == table['seed']

    backbone, head = cfg.model.backbone, cfg.model.head
    assert cfg.model.type == 'mmdenoiserep.ReIDClassifier'
    assert (backbone.type, backbone.arch, backbone.patch_size) == ('mmdenoiserep.TransReIDViT', 'b', 16)
    assert tuple(backbone.img_size) == table['size'] and backbone.stride_size == table['stride']
    assert (backbone.drop_path_rate, backbone.drop_rate, backbone.pretrain_hw_ratio) == (table['drop_path'], 0.0, 1)
    assert backbone.get('num_cameras', 0) == (CAMERAS[data] if table['sie_camera'] else 0)
    assert backbone.get('num_views', 0) == 0  # SIE_VIEW False everywhere
    assert backbone.get('sie_coefficient', table['sie_coe']) == table['sie_coe']
    assert backbone.get('jpm') == table['jpm']
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint='pretrain/jx_vit_base_p16_224.pth',
                                     prefix='backbone')  # PRETRAIN_PATH jx_vit_base_p16_224-80ecf9dd.pth
    assert head.type == ('mmdenoiserep.JPMHead' if table['jpm'] else 'mmdenoiserep.BNNeckHead')
    assert (head.num_classes, head.label_smooth, head.triplet_margin, tuple(head.loss_weights), head.test_feature) == (
        IDENTITIES[data], table['label_smooth'], None, table['loss_weights'], table['test_feature'])
    if table['jpm']:
        assert head.num_local == table['jpm']['divide_length']
    assert cfg.data_preprocessor.num_classes == IDENTITIES[data]

    train = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    test = {t['type']: t for t in cfg.test_dataloader.dataset.pipeline}
    assert tuple(reversed(train['Resize']['scale'])) == table['size'] == tuple(reversed(test['Resize']['scale']))
    assert (train['Resize']['interpolation'], test['Resize']['interpolation']) == ('bicubic', 'bilinear')
    assert tuple(train['RandomCrop']['crop_size']) == table['size']
    assert (train['RandomCrop']['padding'], train['RandomFlip']['prob'], train['RandomErasing']['erase_prob']) == (
        table['padding'], table['flip'], table['erase'])
    assert 'camid' in train['PackInputs']['meta_keys'] and 'camid' in test['PackInputs']['meta_keys']
    assert cfg.data_preprocessor.mean == [table['mean']] * 3 and cfg.data_preprocessor.std == [table['std']] * 3
    evaluator = cfg.test_evaluator
    assert evaluator.type == 'mmdenoiserep.ReIDMetric' and evaluator.normalize  # TEST.FEAT_NORM 'yes'
    if data == 'vehicleid':  # test.py: 10 trials of datasets/vehicleid.py's random gallery, test_list_800
        assert (evaluator.gallery, evaluator.trials, cfg.test_dataloader.dataset.test_size) == (
            'random_per_identity', 10, 800)


@pytest.mark.parametrize('row', sorted(ROWS))
def test_transreid_denoiserep_stage_is_the_authors_vit_b_stage(row):
    """Control and DenoiseRep (which differs from it only by the method, test_configs.py) run the authors' stage."""
    stage = VIT_B_STAGE
    exp, data = row.rsplit('_', 1)
    cfg = config(f'{exp}_denoiserep_{data}')
    opt = cfg.optim_wrapper.optimizer
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', stage['base_lr'], 0.9, 1e-4)
    assert cfg.optim_wrapper.paramwise_cfg.denoiser_lr_mult == stage['denoiser_lr_factor']
    assert cfg.param_scheduler == [dict(type='mmdenoiserep.TimmCosineLR', t_initial=stage['max_epochs'],
                                        warmup_t=stage['warmup_epochs'], warmup_lr_init=0.01 * stage['base_lr'],
                                        lr_min=0.002 * stage['base_lr'], by_epoch=True)]
    assert cfg.train_dataloader.batch_size == stage['batch'] == cfg.auto_scale_lr.base_batch_size
    assert (cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval) == (stage['max_epochs'], stage['eval_period'])
    assert cfg.randomness.seed == stage['seed']
    assert cfg.load_from == f'work_dirs/{row}/epoch_120.pth'  # the trained TransReID baseline
    (hook,) = [h for h in cfg.custom_hooks if h['type'] == 'mmdenoiserep.DenoiseRepHook']
    assert hook['loss_weight'] == stage['loss_weight'] and hook['loss_positions'] == 1.0
    hook_object = DenoiseRepHook(**{k: v for k, v in hook.items() if k != 'type'})
    assert [hook_object.phase_at(epoch, 0) for epoch in range(stage['max_epochs'])] == authors_phases(
        stage['max_epochs'])
    wrapper = cfg.model.backbone
    assert wrapper.preset == 'authors' and wrapper.backbone == config(row).model.backbone
    assert tuple(wrapper.example_input_shape) == (1, 3, *ROWS[row][0]['size'])


@pytest.fixture(scope='module')
def ics_models():
    """The TransReID* Market-1501 baseline and DenoiseRep models (no pretrained weights)."""
    return {arm: build_model(load(f'configs/transreid_vit_b_ics{arm}_market1501.py')).train()
            for arm in ('', '_denoiserep')}


def test_transreid_vit_b_ics_denoises_the_mlp_linears_of_the_blocks_and_the_jpm_branch(ics_models):
    layers = [name for name, _ in denoising_layers(ics_models['_denoiserep'].backbone)]
    expected = [f'layers.{i}.ffn.{fc}' for i in range(12) for fc in ('layers.0.0', 'layers.1')]
    assert sorted(layers) == sorted(expected + ['jpm_layer.ffn.layers.0.0', 'jpm_layer.ffn.layers.1'])


@pytest.mark.parametrize('arm', ['', '_denoiserep'])
def test_transreid_vit_b_ics_optimizer_groups_follow_make_optimizer(arm, ics_models):
    """make_optimizer.py: every parameter whose name holds 'bias' at BASE_LR x BIAS_LR_FACTOR (the LayerNorms' and the
    JPM branch's included), a denoiser ('dm') at BASE_LR x 4, the rest at BASE_LR; weight decay 1e-4 everywhere."""
    model = ics_models[arm]
    cfg = config(f'transreid_vit_b_ics{arm}_market1501')
    base_lr = cfg.optim_wrapper.optimizer.lr
    denoisers = {id(p) for p in denoiser_parameters(model)}
    names = {id(p): n for n, p in model.named_parameters()}
    optim, lrs = epoch_lrs(cfg, model, 1)
    seen = set()
    for group in optim.optimizer.param_groups:
        (param,) = group['params']
        name = names[id(param)]
        expected = base_lr * (4 if id(param) in denoisers else 2 if 'bias' in name else 1)
        assert group['initial_lr'] == pytest.approx(expected, rel=1e-12), name
        assert group['weight_decay'] == 1e-4, name
        seen.add(name)
    assert {'backbone.jpm_norm.bias', 'backbone.jpm_layer.ln2.bias', 'backbone.sie_embed'} <= seen


def test_transreid_vit_b_ics_denoiserep_stage_lr_follows_transreid_ssl_epoch_loop():
    """The stage's processor.py (RG12138/DenoiseRep) steps timm's scheduler after each epoch: epoch e (from 0) at
    t = e."""
    cfg, stage = config('transreid_vit_b_ics_denoiserep_market1501'), VIT_B_STAGE
    _, lrs = epoch_lrs(cfg, torch.nn.Linear(2, 2, bias=False), stage['max_epochs'])
    expected = [timm_cosine(t, stage['base_lr'], stage['max_epochs'], 0.002 * stage['base_lr'], stage['warmup_epochs'],
                            0.01 * stage['base_lr']) for t in range(stage['max_epochs'])]
    assert [lr[0] for lr in lrs] == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_transreid_vit_b_baseline_lr_follows_transreid_epoch_loop():
    """processor.py: scheduler.step(epoch) before epoch e = 1, 2, ...: epoch e trains at t = e."""
    cfg, table = config('transreid_vit_b_market1501'), VIT_BASE
    _, lrs = epoch_lrs(cfg, torch.nn.Linear(2, 2, bias=False), table['max_epochs'])
    expected = [timm_cosine(epoch, table['base_lr'], table['max_epochs'], 0.002 * table['base_lr'],
                            table['warmup_epochs'], 0.01 * table['base_lr'])
                for epoch in range(1, table['max_epochs'] + 1)]
    assert [lr[0] for lr in lrs] == pytest.approx(expected, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize('row', ['transreid_vit_b_ics_market1501', 'transreid_vit_b_ics_msmt17',
                                 'transreid_vit_b_ics_vehicleid'])
def test_transreid_vit_b_ics_sie_and_jpm_run_on_the_tiny_data(row):
    """--tiny: the training and test samples carry camera ids inside the SIE's range, the tiny images make a patch
    grid that JPM divides and shuffles, and the SIE term reaches the test feature ([global, 4 local] x 768)."""
    cfg = load(f'configs/{row}.py')
    init_default_scope('mmpretrain')
    model = build_model(cfg).eval()
    cameras = model.backbone.num_cameras
    assert cameras == (CAMERAS[ROWS[row][1]] if ROWS[row][0]['sie_camera'] else 0)
    for loader in ('train_dataloader', 'test_dataloader'):
        dataset = DATASETS.build(cfg[loader].dataset)
        samples = [dataset[i] for i in range(4)]
        camids = [s['data_samples'].camid for s in samples]
        assert all(0 <= c < max(cameras, 1) for c in camids), camids
    data = model.data_preprocessor(dict(inputs=[s['inputs'] for s in samples],
                                        data_samples=[s['data_samples'] for s in samples]))
    grid = [(size - 16) // 12 + 1 for size in data['inputs'].shape[-2:]]
    assert grid[0] * grid[1] // 4 >= 1  # JPM: 4 groups of at least one patch
    with torch.no_grad():
        features = torch.stack([s.pred_feature for s in model(**data, mode='predict')])
        assert features.shape == (4, 5 * 768)
        for sample in data['data_samples']:
            sample.set_metainfo(dict(camid=(sample.camid + 1) % max(cameras, 1)))
        moved = torch.stack([s.pred_feature for s in model(**data, mode='predict')])
    assert (not torch.allclose(features, moved)) if cameras else torch.equal(features, moved)
