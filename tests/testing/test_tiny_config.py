"""--tiny: one rule set maps any full-scale config onto the tiny data and a short CPU schedule."""
import os.path as osp

import pytest
from config_helpers import load

from mmdenoiserep.testing.tiny_config import TINY_DATA_ROOT

CONFIGS = ['configs/mask_rcnn_swinv2_t_denoiserep_coco.py', 'configs/mask_rcnn_swinv2_t_coco.py',
           'configs/fcn_r50_denoiserep_ade20k.py', 'configs/resnet50_denoiserep_in1k.py']


def strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def dicts(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from dicts(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from dicts(value)


@pytest.mark.parametrize('config', CONFIGS)
def test_tiny_rules(config):
    full, cfg = load(config, tiny=False), load(config)
    assert any(s.startswith('data/') for s in strings(full.to_dict()))
    paths = [s for s in strings(cfg.to_dict()) if s.startswith('data/')]
    assert paths and all(s.startswith(TINY_DATA_ROOT + '/') for s in paths)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        assert loader.batch_size == 2 and loader.num_workers == 0 and not loader.persistent_workers
        dataset = loader.dataset
        assert osp.isdir(dataset.data_root), dataset.data_root
        if dataset.get('ann_file'):
            assert osp.isfile(osp.join(dataset.data_root, dataset.ann_file))
    assert cfg.load_from is None and cfg.param_scheduler is None
    assert not any(d.get('type') == 'Pretrained' for d in dicts(cfg.to_dict()))
    assert not any(isinstance(d.get('pretrained'), str) for d in dicts(cfg.to_dict()))
    assert cfg.train_cfg.get('max_epochs', 2) == 2 and cfg.train_cfg.get('max_iters', 20) == 20
    sizes = [v for d in dicts(cfg.train_dataloader.dataset.pipeline) for k, v in d.items()
             if k in ('scale', 'crop_size')]
    full_sizes = [v for d in dicts(full.train_dataloader.dataset.pipeline) for k, v in d.items()
                  if k in ('scale', 'crop_size')]
    assert sizes and all(max(_flat(t)) < max(_flat(f)) for t, f in zip(sizes, full_sizes))
    for hook in cfg.get('custom_hooks', []):
        if hook['type'].endswith('DenoiseRepHook') and hook.get('by_epoch', 'max_iters' not in cfg.train_cfg):
            assert hook['interval'] == 1


def _flat(value):
    return [value] if isinstance(value, (int, float)) else [x for v in value for x in _flat(v)]


def test_coco_scale_and_options_after_tiny():
    cfg = load('configs/mask_rcnn_swinv2_t_coco.py', 'load_from=baseline.pth', 'train_cfg.max_epochs=3')
    resize = next(t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'Resize')
    assert resize['scale'] == (160, 96)  # (1333, 800) / 8, multiples of 32
    assert cfg.load_from == 'baseline.pth' and cfg.train_cfg.max_epochs == 3


def test_missing_config_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match='config file not found'):
        load('configs/nope.py')


def test_configs_resolve_as_package_configs(tmp_path):
    """`_base_ = 'mmdenoiserep::denoiserep/...'` works like 'mmdet::...' (configs ship in .mim)."""
    import mmdenoiserep  # noqa: F401  (registers the package with mmengine's config resolver)
    from mmengine.config import Config
    child = tmp_path / 'child.py'
    child.write_text("_base_ = 'mmdenoiserep::denoiserep/mask_rcnn_swinv2_t_denoiserep_coco.py'\n"
                     "model = dict(backbone=dict(num_steps=500))\n")
    cfg = Config.fromfile(str(child))
    assert cfg.model.backbone.type == 'mmdenoiserep.DenoiseRepBackbone'
    assert cfg.model.backbone.num_steps == 500
    assert cfg.model.backbone.backbone.type == 'mmpretrain.SwinTransformerV2'


def test_what_scales_with_image_size_shrinks_with_it(tmp_path):
    """YOLOX: RandomAffine crops the 2x mosaic back to img_scale with border = -img_scale / 2, and the
    batch resize draws sizes around img_scale; both must follow the shrunk image size."""
    config = tmp_path / 'yolox.py'
    config.write_text("_base_ = 'mmdet::yolox/yolox_s_8xb8-300e_coco.py'\n")
    cfg = load(str(config))
    pipeline = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    scale = pipeline['Mosaic']['img_scale']
    assert scale == (64, 64) and pipeline['RandomAffine']['border'] == (-scale[0] // 2, -scale[1] // 2)
    resize = cfg.model.data_preprocessor.batch_augments[0]
    assert resize['random_size_range'] == (64, 96)  # (480, 800) / 8 in multiples of 32: around 64

    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope('mmdet')
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.pipeline = dataset_cfg.pipeline[:2]  # Mosaic, RandomAffine
    dataset = DATASETS.build(dataset_cfg)
    samples = [dataset[i] for i in range(12)]
    assert {s['img'].shape[:2] for s in samples} == {scale}  # -320 made OpenCV fall back to 128x128
    assert sum(len(s['gt_bboxes']) > 0 for s in samples) >= 8  # and lost nearly every box


def test_transform_lists_of_hooks_shrink_too():
    from mmengine.config import Config

    from mmdenoiserep.testing.tiny_config import tiny_config
    cfg = Config(dict(custom_hooks=[dict(type='PipelineSwitchHook', switch_epoch=280, switch_pipeline=[
        dict(type='RandomResize', scale=(640, 640), ratio_range=(0.1, 2.0))])], train_cfg=dict(max_epochs=300)))
    assert tiny_config(cfg).custom_hooks[0].switch_pipeline[0]['scale'] == (64, 64)


@pytest.mark.parametrize('config', ['configs/swinv2_t_denoiserep_in1k.py', 'configs/swinv2_t_in1k.py'])
def test_swin_classifiers_take_tiny_images(config):
    """A 64-pixel image leaves SwinV2-T's last stages smaller than its 8x8 windows: --tiny pads them."""
    import torch

    from mmdenoiserep.apis import build_model
    cfg = load(config)
    model = build_model(cfg)
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64))
    assert out.shape == (1, 1000)
    assert 'pad_small_map' not in str(load(config, tiny=False).model)
    from mmengine.config import Config

    from mmdenoiserep.testing.tiny_config import tiny_config
    mmdet_swin = Config(dict(default_scope='mmdet', model=dict(backbone=dict(type='SwinTransformer'))))
    assert 'pad_small_map' not in tiny_config(mmdet_swin).model.backbone  # mmdet's Swin has no such argument


@pytest.mark.parametrize('config', ['configs/transreid_ssl_vit_s_denoiserep_market1501.py',
                                    'configs/transreid_vit_b_ics_vehicleid.py'])
def test_identity_batches_become_two_identities_of_two_images(config, monkeypatch):
    full, cfg = load(config, tiny=False), load(config)
    assert full.train_dataloader.batch_sampler.num_instances == 4
    assert (cfg.train_dataloader.batch_size, cfg.train_dataloader.batch_sampler.num_instances) == (4, 2)
    monkeypatch.setenv('WORLD_SIZE', '3')  # a torchrun launch: the identity batch is global
    assert load(config).train_dataloader.batch_size == 12
    assert cfg.val_dataloader.batch_size == 2 and 'batch_sampler' not in cfg.val_dataloader
    assert osp.isdir(cfg.train_dataloader.dataset.data_root)
    assert not any(d.get('type') == 'Pretrained' for d in dicts(cfg.to_dict()))  # no LUPerson / ImageNet download


def test_clip_reid_runs_one_epoch_of_each_stage_without_amp_or_downloads(monkeypatch):
    """CLIP-ReID's loop: stage 1 (prompt_epochs) and stage 2 one epoch each, the feature-extraction loader as the
    others, each of its two AmpOptimWrappers a plain OptimWrapper without CUDA; stage 2 alone stays stage 2."""
    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    config = 'configs/clip_reid_vit_b_market1501.py'
    full, cfg = load(config, tiny=False), load(config)
    assert (full.train_cfg.prompt_epochs, full.train_cfg.max_epochs) == (120, 180)
    assert (cfg.train_cfg.prompt_epochs, cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval) == (1, 2, 1)
    loader = cfg.train_cfg.prompt_dataloader
    assert (loader.batch_size, loader.num_workers, loader.persistent_workers) == (2, 0, False)
    assert osp.isdir(loader.dataset.data_root) and loader.dataset.data_root.startswith(TINY_DATA_ROOT + '/')
    assert [full.optim_wrapper[name].type for name in ('prompt', 'image')] == ['AmpOptimWrapper'] * 2
    for name in ('prompt', 'image'):
        assert cfg.optim_wrapper[name].type == 'OptimWrapper' and 'loss_scale' not in cfg.optim_wrapper[name]
    assert cfg.param_scheduler is None
    assert not any(d.get('type') == 'Pretrained' for d in dicts(cfg.to_dict()))  # no CLIP download
    control = load('configs/clip_reid_vit_b_control_market1501.py')
    assert (control.train_cfg.prompt_epochs, control.train_cfg.max_epochs) == (0, 2)
    assert control.optim_wrapper.type == 'OptimWrapper'
