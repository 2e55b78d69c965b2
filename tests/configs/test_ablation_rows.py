"""The metafile rows that ablate another row's method (``Ablation Of``: the paper's label-information and
parameter-fusion ablations on TransReID-SSL ViT-S): each config inherits that row's DenoiseRep config (or its
control) and differs from it exactly by the ablation; its phases, epochs and schedule follow from that row's; the
training images it reads are those of the labelled training split (label-free) or of the union of the four re-id
training sets (merged), with no label; every model builds. tests/experiments/test_reid_ablations.py trains them.
"""
import os.path as osp

import pytest
from config_helpers import EXPERIMENTS, ROOT, experiments, load
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope

from mmdenoiserep import denoising_layers
from mmdenoiserep.apis import build_model
from mmdenoiserep.engine import DenoiseRepHook

ROWS = {m['Name']: m for m in EXPERIMENTS}
ABLATION_ROWS = [m['Name'] for m in EXPERIMENTS if 'Ablation Of' in m['Metadata']]
#: ablation (its config name between the experiment and the dataset) -> (the arm of the ablated row it inherits,
#: what it may change there).
KINDS = {
    'denoiserep_label_free': ('denoiserep', ('train_dataloader.dataset', 'train_dataloader.batch_sampler',
                                             'train_dataloader.batch_size', 'train_cfg.max_epochs', 'param_scheduler',
                                             'default_hooks.checkpoint.interval', 'custom_hooks')),
    'denoiserep_merged': ('denoiserep', ('custom_hooks', 'reid_union_images')),
    'post_backbone': ('control', ('model.neck', 'custom_hooks')),
}
#: The four re-id training sets of the merged ablation (baseline configs: their train datasets).
REID_TRAIN_SETS = [f'configs/transreid_ssl_vit_s_{data}.py' for data in ('market1501', 'dukemtmc', 'msmt17', 'cuhk03')]


def ablation(model):
    """(ablated row, kind, the config the ablation inherits)."""
    row = ROWS[model['Metadata']['Ablation Of']]
    exp, data = osp.basename(row['Config'])[:-3].split('_denoiserep_')
    stem = osp.basename(model['Config'])[:-3]
    assert stem.startswith(exp + '_') and stem.endswith('_' + data), stem
    kind = stem[len(exp) + 1:-len(data) - 1]
    assert kind in KINDS, stem
    inherited = row['Config'] if KINDS[kind][0] == 'denoiserep' else row['Metadata']['Control Config']
    return row, kind, inherited


def plain(path: str) -> dict:
    return Config.fromfile(str(ROOT / path)).to_dict()


def diff(a, b, path=''):
    """Dotted paths where two config trees differ (lists compared whole)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [p for key in sorted(set(a) | set(b), key=str)
                for p in ([f'{path}.{key}' if path else str(key)] if key not in a or key not in b
                          else diff(a[key], b[key], f'{path}.{key}' if path else str(key)))]
    return [] if a == b else [path]


def hooks_of(cfg: dict, name: str) -> list:
    return [h for h in cfg.get('custom_hooks') or [] if h['type'] == f'mmdenoiserep.{name}']


def image_paths(dataset_cfg) -> list:
    """Sorted image paths of a dataset config at tiny scale; every sample's info checked to carry no label."""
    init_default_scope('mmpretrain')
    dataset = DATASETS.build(dataset_cfg)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    return sorted(info['img_path'] for info in infos), [info for info in infos if 'gt_label' in info]


def test_the_metafile_has_the_three_ablations_on_the_four_sets():
    kinds = sorted(ablation(ROWS[name])[1] for name in ABLATION_ROWS)
    assert kinds == sorted(list(KINDS) * 4)


@pytest.mark.parametrize('model', experiments(only=ABLATION_ROWS))
def test_ablation_row_names_its_row_and_configs(model):
    row, kind, inherited = ablation(model)
    meta, row_meta = model['Metadata'], row['Metadata']
    assert model['Name'] == osp.basename(model['Config'])[:-3] and (ROOT / model['Config']).is_file()
    for key in ('Baseline Config', 'Control Config', 'Task', 'Dataset', 'Backbone'):
        assert meta[key] == row_meta[key], key
    assert meta.get('Fused', True) is (kind != 'post_backbone')  # fuse_ckpt refuses the post-backbone denoiser
    text = (ROOT / model['Config']).read_text(encoding='utf-8')
    assert f"_base_ = './{osp.basename(inherited)}'" in text
    header = ''.join(line for line in text.splitlines(keepends=True) if line.startswith('#'))
    assert meta['Recipe'].startswith('project recipe: ') and 'Recipe: project recipe' in header
    assert 'Summed denoiser LR' in header
    paper = {r['Arm']: r['Metrics'] for r in model['Results'] if r['Source'] == 'paper'}
    row_paper = {r['Arm']: r['Metrics'] for r in row['Results'] if r['Source'] == 'paper'}
    assert set(paper) == {'baseline', 'denoiserep'}
    assert paper['baseline']['reid/mAP'] == row_paper['baseline']['reid/mAP']  # the ablation tables' first line


@pytest.mark.parametrize('model', experiments(only=ABLATION_ROWS))
def test_ablation_changes_its_row_by_the_ablation_only(model):
    row, kind, inherited = ablation(model)
    base, config = plain(inherited), plain(model['Config'])
    changed = diff(base, config)
    allowed = KINDS[kind][1]
    assert [p for p in changed if not any(p == a or p.startswith(a + '.') for a in allowed)] == []
    assert any(p.startswith('custom_hooks') for p in changed)


@pytest.mark.parametrize('model', experiments(only=ABLATION_ROWS))
def test_ablation_keeps_its_rows_phase_schedule_and_settings(model):
    row, kind, _ = ablation(model)
    denoiserep, config = plain(row['Config']), plain(model['Config'])
    row_hook, = hooks_of(denoiserep, 'DenoiseRepHook')
    hook, = hooks_of(config, 'DenoiseRepHook')
    assert hooks_of(config, 'PhaseLoggingHook') == [dict(type='mmdenoiserep.PhaseLoggingHook')]
    for key in ('optim_wrapper', 'randomness', 'auto_scale_lr'):
        assert config[key] == denoiserep[key], key
    data_hooks = hooks_of(config, 'PhaseTrainDataHook')
    if kind != 'denoiserep_label_free':
        assert hook == row_hook  # lambda, phases, interval, offset, by_epoch, loss_positions
        assert (config['train_cfg'], config['param_scheduler']) == (denoiserep['train_cfg'],
                                                                    denoiserep['param_scheduler'])
        assert [h['phase'] for h in data_hooks] == (['denoise'] if kind == 'denoiserep_merged' else [])
        return
    # label-free: the row's denoise-phase epochs, one denoise phase, the row's cosine rule over them
    kwargs = {key: value for key, value in row_hook.items() if key != 'type'}
    denoise_epochs = [DenoiseRepHook(**kwargs).phase_at(e, e) for e in range(denoiserep['train_cfg']['max_epochs'])]
    epochs = denoise_epochs.count('denoise')
    assert epochs == denoiserep['train_cfg']['max_epochs'] // 2 and not data_hooks
    assert {k: v for k, v in hook.items() if k not in ('phases', 'interval', 'offset')} == \
        {k: v for k, v in row_hook.items() if k not in ('phases', 'interval', 'offset')}
    assert hook['phases'] == ('denoise',) and hook['interval'] == epochs and hook['offset'] == 0
    assert config['train_cfg'] == dict(denoiserep['train_cfg'], max_epochs=epochs)
    assert config['default_hooks']['checkpoint']['interval'] == epochs
    schedule, = config['param_scheduler']
    assert schedule == dict(denoiserep['param_scheduler'][0], t_initial=epochs)
    loader = config['train_dataloader']
    assert loader['batch_sampler'] is None and loader['sampler'] == dict(type='DefaultSampler', shuffle=True)
    assert loader['batch_size'] == denoiserep['train_dataloader']['batch_size'] == 128


@pytest.mark.parametrize('model', experiments(only=[n for n in ABLATION_ROWS if '_post_backbone_' not in n]))
def test_the_denoise_data_are_the_training_images_without_labels(model):
    """Label-free: the images of the row's labelled training split; merged: those of the four training sets."""
    row, kind, _ = ablation(model)
    cfg = load(model['Config'])
    if kind == 'denoiserep_label_free':
        images, labelled = image_paths(cfg.train_dataloader.dataset)
        expected = image_paths(load(row['Metadata']['Baseline Config']).train_dataloader.dataset)[0]
    else:
        images, labelled = image_paths(hooks_of(cfg, 'PhaseTrainDataHook')[0]['dataset'])
        expected = sorted(path for config in REID_TRAIN_SETS for path in image_paths(
            load(config).train_dataloader.dataset)[0])
        assert len(set(expected)) == len(expected)  # four disjoint sets
    assert images == expected and len(images) > 0 and labelled == []


@pytest.mark.parametrize('model', experiments(only=ABLATION_ROWS))
def test_ablation_model_builds_at_tiny_scale(model):
    _, kind, _ = ablation(model)
    built = build_model(load(model['Config']))
    layers = [name for name, _ in denoising_layers(built)]
    if kind == 'post_backbone':
        assert layers == ['neck.reverse_step'] and built.neck.reverse_step.step == 1
        assert built.neck.reverse_step.in_features == built.head.bottleneck.num_features == 384
    else:
        assert len(layers) == 24 and all(name.startswith('backbone.') for name in layers)
