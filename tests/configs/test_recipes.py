"""The rows that follow the authors' code run the authors' experiment: each resolved config (the DenoiseRep config,
and through tests/configs/test_configs.py its control, which differs only by the method) is checked against a table of
the authors' values, written out here from their files (RG12138/DenoiseRep; cited per key), and the optimizer,
LR schedule and phase schedule the configs build are compared with independent re-implementations of the
authors' rules (make_optimizer.py, timm's CosineLRScheduler, the epoch loops of processor.py and main.py).
A drifting base config fails here.
"""
import math

import pytest
import torch
from config_helpers import ROOT
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import mmdenoiserep  # noqa: F401  (registers the mmdenoiserep.* types)
from mmdenoiserep import denoiser_parameters, denoising_layers
from mmdenoiserep.apis import build_model
from mmdenoiserep.engine import DenoiseRepHook

REID = 'RG12138/DenoiseRep Person-ReID/TransReID-SSL/transreid_pytorch'
#: The authors' DenoiseRep stage for TransReID-SSL ViT-S: configs/<data>/vit_small.yml, config/defaults.py,
#: solver/make_optimizer.py, solver/scheduler_factory.py, processor/processor.py, train.py.
REID_AUTHORS = dict(
    max_epochs=240,            # SOLVER.MAX_EPOCHS (cuhk03: 120)
    eval_period=20,            # SOLVER.EVAL_PERIOD (dukemtmc, cuhk03: 120)
    base_lr=1e-4,              # SOLVER.BASE_LR
    momentum=0.9,              # defaults.py SOLVER.MOMENTUM
    weight_decay=1e-4,         # SOLVER.WEIGHT_DECAY, WEIGHT_DECAY_BIAS
    bias_lr_factor=2,          # SOLVER.BIAS_LR_FACTOR
    denoiser_lr_factor=4,      # make_optimizer.py: 'dm' parameters at BASE_LR * 4
    warmup_epochs=20,          # SOLVER.WARMUP_EPOCHS
    warmup_lr_init=0.01 * 1e-4,  # scheduler_factory.py: 0.01 * BASE_LR
    lr_min=0.002 * 1e-4,       # scheduler_factory.py: 0.002 * BASE_LR
    batch=128,                 # SOLVER.IMS_PER_BATCH (global)
    num_instance=4,            # DATALOADER.NUM_INSTANCE
    seed=1234,                 # defaults.py SOLVER.SEED
    loss_weight=0.1,           # defaults.py MODEL.DIFFUSION_LOSS_WEIGHT
    ft_epoch=10,               # defaults.py TRAIN.FT_EPOCH
    layers=24,                 # convert_vit_denoise_linear: fc1/fc2 of 12 blocks
    label_smooth=0.0,          # IF_LABELSMOOTH 'off'
    test_feature='before_bn',  # TEST.NECK_FEAT 'before'
    size=(256, 128),           # INPUT.SIZE_TRAIN / SIZE_TEST
    padding=10, flip=0.5, erase=0.5, mean=127.5, std=127.5,  # INPUT.PADDING, PROB, RE_PROB, PIXEL_MEAN/STD (x255)
)
REID_ROWS = {
    'market1501': dict(),
    'dukemtmc': dict(eval_period=120),
    'msmt17': dict(),
    'cuhk03': dict(max_epochs=120, eval_period=120),
}
#: The authors' ImageNet SwinV2 DenoiseRep stage: Classification/imagenet/Swin-Transformer config.py, main.py,
#: optimizer.py, lr_scheduler.py; the README's run on 2 GPUs x 128 images.
SWIN_AUTHORS = dict(
    max_epochs=120,            # TRAIN.EPOCHS
    total_batch=256,           # README: --nproc_per_node 2 --batch-size 128
    base_lr=5e-5 * 256 / 512,  # TRAIN.BASE_LR, main.py's linear scaling per 512
    warmup_lr=5e-7 * 256 / 512,  # TRAIN.WARMUP_LR
    min_lr=5e-6 * 256 / 512,   # TRAIN.MIN_LR
    warmup_epochs=20,          # TRAIN.WARMUP_EPOCHS (LR_SCHEDULER.WARMUP_PREFIX True)
    weight_decay=0.05,         # TRAIN.WEIGHT_DECAY
    eps=1e-8, betas=(0.9, 0.999),  # TRAIN.OPTIMIZER
    clip_grad=5.0,             # TRAIN.CLIP_GRAD
    seed=0,                    # SEED (+ rank, main.py)
    loss_weight=0.01,          # MODEL.DIFFUSION_LOSS_WEIGHT
    ft_epoch=10,               # TRAIN.FT_EPOCH
    no_decay_keywords=('cpb_mlp', 'logit_scale', 'relative_position_bias_table'),  # no_weight_decay_keywords
    no_decay_names=('absolute_pos_embed',),  # no_weight_decay
)
SWIN_ROWS = {'swinv2_t': dict(layers=48), 'swinv2_s': dict(layers=96),  # 4 per block: 12, 24 and 24 blocks
             'swinv2_b': dict(layers=96)}


def config(name: str) -> Config:
    return Config.fromfile(str(ROOT / 'configs' / f'{name}.py'))


def hook_of(cfg) -> dict:
    (hook,) = [h for h in cfg.custom_hooks if h['type'] == 'mmdenoiserep.DenoiseRepHook']
    return hook


def authors_phase(epochs: int, counts_from: int):
    """The authors' epoch loop: denoisers trainable first, then at every epoch % 10 == 0 frozen when
    (epoch / 10) is odd, trainable when even; epochs counted from ``counts_from`` (processor.py: 1; main.py: 0)."""
    phases, state = [], 'denoise'
    for epoch in range(counts_from, epochs + counts_from):
        if epoch % 10 == 0:
            state = 'finetune' if (epoch / 10) % 2 else 'denoise'
        phases.append(state)
    return phases


def hook_phases(hook_cfg: dict, epochs: int):
    kwargs = {k: v for k, v in hook_cfg.items() if k != 'type'}
    hook = DenoiseRepHook(**kwargs)
    return [hook.phase_at(epoch, 0) for epoch in range(epochs)]


def schedule(cfg, model, epochs: int, iters_per_epoch: int = 1):
    """The LR of every param group at each iteration, from the config's optimizer and param schedulers."""
    from mmengine.registry import PARAM_SCHEDULERS
    wrapper_cfg = dict(cfg.optim_wrapper, type='OptimWrapper')  # AmpOptimWrapper needs a GPU; the groups are the same
    wrapper_cfg.pop('loss_scale', None)
    optim = build_optim_wrapper(model, wrapper_cfg)
    schedulers = []
    for s in cfg.param_scheduler:
        s = dict(s)
        if s.pop('convert_to_iter_based', False):
            cls = PARAM_SCHEDULERS.get(s.pop('type'))
            schedulers.append(cls.build_iter_from_epoch(optim, epoch_length=iters_per_epoch, **s))
        else:
            schedulers.append(PARAM_SCHEDULERS.build(dict(s, optimizer=optim)))
    lrs = []
    for epoch in range(epochs):
        for _ in range(iters_per_epoch):
            lrs.append([g['lr'] for g in optim.optimizer.param_groups])
            optim.step()
            for s in schedulers:
                if not s.by_epoch:
                    s.step()
        for s in schedulers:
            if s.by_epoch:
                s.step()
    return optim, lrs


def timm_cosine(t, base, t_initial, lr_min, warmup_t, warmup_lr_init, prefix=False):
    """timm 0.4 CosineLRScheduler._get_lr (cycle_limit 1, t_mul 1), written out from cosine_lr.py."""
    if t < warmup_t:
        return warmup_lr_init + t * (base - warmup_lr_init) / warmup_t
    if prefix:
        t, t_initial = t - warmup_t, t_initial - warmup_t
    if t >= t_initial:
        return lr_min
    return lr_min + 0.5 * (base - lr_min) * (1 + math.cos(math.pi * t / t_initial))


@pytest.mark.parametrize('row', sorted(REID_ROWS))
def test_reid_denoiserep_config_is_the_authors_recipe(row):
    authors = {**REID_AUTHORS, **REID_ROWS[row]}
    cfg = config(f'transreid_ssl_vit_s_denoiserep_{row}')
    epochs = authors['max_epochs']
    assert cfg.train_cfg.max_epochs == epochs and cfg.train_cfg.val_interval == authors['eval_period']
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'  # processor.py: amp.autocast, GradScaler
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', authors['base_lr'], authors['momentum'],
                                                                   authors['weight_decay'])
    assert cfg.train_dataloader.batch_size == authors['batch'] == cfg.auto_scale_lr.base_batch_size
    assert cfg.train_dataloader.batch_sampler.num_instances == authors['num_instance']
    assert cfg.randomness.seed == authors['seed']
    assert cfg.load_from == f'work_dirs/transreid_ssl_vit_s_{row}/epoch_120.pth'  # the trained baseline
    head = cfg.model.head
    assert (head.label_smooth, head.test_feature, head.triplet_margin) == (authors['label_smooth'],
                                                                          authors['test_feature'], None)
    train, test = cfg.train_dataloader.dataset.pipeline, cfg.test_dataloader.dataset.pipeline
    resize = {t['type']: t for t in train}['Resize']
    assert tuple(reversed(resize['scale'])) == authors['size'] and resize['interpolation'] == 'bicubic'
    assert {t['type']: t for t in test}['Resize']['interpolation'] == 'bilinear'  # T.Resize's default
    crop, flip, erase = ({t['type']: t for t in train}[k] for k in ('RandomCrop', 'RandomFlip', 'RandomErasing'))
    assert (crop['padding'], flip['prob'], erase['erase_prob']) == (authors['padding'], authors['flip'],
                                                                     authors['erase'])
    assert cfg.data_preprocessor.mean == [authors['mean']] * 3 and cfg.data_preprocessor.std == [authors['std']] * 3
    hook = hook_of(cfg)
    assert hook['loss_weight'] == authors['loss_weight'] and hook['loss_positions'] == 1.0
    assert hook_phases(hook, epochs) == authors_phase(epochs, counts_from=1)  # processor.py counts from 1
    assert cfg.model.backbone.preset == 'authors'


def reid_model(row):
    cfg = config(f'transreid_ssl_vit_s_denoiserep_{row}')
    cfg.model.backbone.backbone.init_cfg = None  # the LUPerson checkpoint is not shipped
    return cfg, build_model(cfg).train()


def test_reid_optimizer_groups_follow_make_optimizer():
    """Every parameter's LR and weight decay (make_optimizer.py: 'bias' in the name -> lr x2, a denoiser ('dm')
    -> lr x4, decay 1e-4 everywhere), and the per-epoch LR of each kind of group over the whole run (timm's
    cosine of scheduler_factory.py, warm-up inside the cosine, from/to absolute values)."""
    authors = REID_AUTHORS
    cfg, model = reid_model('market1501')
    assert len(denoising_layers(model.backbone)) == authors['layers']
    denoisers = {id(p) for p in denoiser_parameters(model)}
    optim, lrs = schedule(cfg, model, authors['max_epochs'])
    names = {id(p): n for n, p in model.named_parameters()}
    kinds = {}
    for index, group in enumerate(optim.optimizer.param_groups):
        (param,) = group['params']
        name = names[id(param)]
        base = authors['base_lr']
        if 'bias' in name:
            base = authors['base_lr'] * authors['bias_lr_factor']
        if id(param) in denoisers:
            base = authors['base_lr'] * authors['denoiser_lr_factor']
        assert group['initial_lr'] == pytest.approx(base, rel=1e-12), name
        assert group['weight_decay'] == authors['weight_decay'], name
        kinds.setdefault(base, index)
    assert sorted(kinds) == [1e-4, 2e-4, 4e-4]
    for base, index in kinds.items():
        expected = [timm_cosine(t, base, authors['max_epochs'], authors['lr_min'], authors['warmup_epochs'],
                                authors['warmup_lr_init']) for t in range(authors['max_epochs'])]
        assert [epoch[index] for epoch in lrs] == pytest.approx(expected, rel=1e-9, abs=1e-15)


#: Project rows that carry the authors' SwinV2 ImageNet stage over to another backbone (their configs say so), with
#: the project's denoiser rule for Adam-family rows (lr x5, no weight decay) and their layer preset.
SWIN_STAGE_ROWS = {'vit_s': dict(denoiser_lr_mult=5.0, preset='authors'),
                   'vit_b': dict(denoiser_lr_mult=5.0, preset='authors'),
                   'vmamba_t': dict(denoiser_lr_mult=5.0, preset='all'),
                   'vmamba_s': dict(denoiser_lr_mult=5.0, preset='all'),
                   'vmamba_b': dict(denoiser_lr_mult=5.0, preset='all')}
AUTHORS_SWIN_DENOISERS = dict(denoiser_lr_mult=1.0, preset='authors')  # optimizer.py: no rule for the denoisers


@pytest.mark.parametrize('row', sorted(SWIN_ROWS) + sorted(SWIN_STAGE_ROWS))
def test_imagenet_denoiserep_config_runs_the_authors_swinv2_stage(row):
    """The SwinV2 rows are the authors' stage; the ViT and VMamba ImageNet rows run the same stage (project recipe)
    and differ only in their denoisers' LR rule and layer preset."""
    authors = {**SWIN_AUTHORS, **SWIN_STAGE_ROWS.get(row, AUTHORS_SWIN_DENOISERS)}
    cfg = config(f'{row}_denoiserep_in1k')
    assert cfg.train_cfg.max_epochs == authors['max_epochs']
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.clip_grad.max_norm == authors['clip_grad']
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay, opt.eps, tuple(opt.betas)) == (
        'AdamW', authors['base_lr'], authors['weight_decay'], authors['eps'], authors['betas'])
    assert cfg.optim_wrapper.paramwise_cfg.denoiser_lr_mult == authors['denoiser_lr_mult']
    assert 2 * cfg.train_dataloader.batch_size == authors['total_batch'] == cfg.auto_scale_lr.base_batch_size
    assert cfg.randomness.seed == authors['seed'] and cfg.randomness.diff_rank_seed
    hook = hook_of(cfg)
    assert hook['loss_weight'] == authors['loss_weight'] and hook['loss_positions'] == 1.0
    assert hook_phases(hook, authors['max_epochs']) == authors_phase(authors['max_epochs'], counts_from=0)
    assert cfg.model.backbone.preset == authors['preset']
    # the per-iteration schedule: warm-up from WARMUP_LR over 20 epochs, then cosine to MIN_LR (warmup_prefix)
    iters = 3
    model = torch.nn.Linear(2, 2)
    _, lrs = schedule(cfg, model, authors['max_epochs'], iters_per_epoch=iters)
    expected = [timm_cosine(t, authors['base_lr'], authors['max_epochs'] * iters, authors['min_lr'],
                            authors['warmup_epochs'] * iters, authors['warmup_lr'], prefix=True)
                for t in range(authors['max_epochs'] * iters)]
    assert [lr[0] for lr in lrs] == pytest.approx(expected, rel=1e-6)


def test_swinv2_weight_decay_follows_set_weight_decay():
    """optimizer.py set_weight_decay: no decay for 1-D parameters, biases, no_weight_decay() names and
    no_weight_decay_keywords() (cpb_mlp, logit_scale): denoisers of cpb_mlp layers included; one LR for all."""
    authors = SWIN_AUTHORS
    cfg = config('swinv2_t_denoiserep_in1k')
    cfg.model.backbone.update(example_input_shape=(1, 3, 64, 64))
    cfg.model.backbone.backbone.update(img_size=64, pad_small_map=True)
    model = build_model(cfg).train()
    assert len(denoising_layers(model.backbone)) == SWIN_ROWS['swinv2_t']['layers']
    wrapper_cfg = dict(cfg.optim_wrapper, type='OptimWrapper')
    wrapper_cfg.pop('loss_scale')
    optim = build_optim_wrapper(model, wrapper_cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optim.optimizer.param_groups:
        (param,) = group['params']
        name = names[id(param)]
        no_decay = (param.ndim == 1 or name.endswith('.bias') or name.split('.')[-1] in authors['no_decay_names']
                    or any(k in name for k in authors['no_decay_keywords']))
        assert group['weight_decay'] == (0.0 if no_decay else authors['weight_decay']), name
        assert group['lr'] == authors['base_lr'], name
