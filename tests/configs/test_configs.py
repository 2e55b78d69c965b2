"""Every experiment of configs/metafile.yml: its three configs (baseline, control, DenoiseRep) exist and load,
differ exactly where they should (a structural diff of the loaded configs), the DenoiseRep model builds,
and README.md's model zoo is the one tools/model_zoo.py makes from the metafile.

The experiments are read from the metafile, so a new row is covered without editing this file.
"""
import ast
import functools
import glob
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import yaml
from config_helpers import EXPERIMENTS as MODELS
from config_helpers import ROOT, experiments, paths
from mmengine.config import Config

from mmdenoiserep.engine import DenoiseRepHook
from mmdenoiserep.models.backbone import LAYER_PRESETS

#: What the control may change in its baseline: the extra training (a dotted path covers all below it).
EXTRA_TRAINING = ('train_cfg', 'param_scheduler', 'optim_wrapper', 'default_hooks.checkpoint.interval',
                  'default_hooks.logger.interval', 'auto_scale_lr', 'find_unused_parameters', 'load_from',
                  'train_dataloader.batch_size', 'randomness')
#: What every DenoiseRep config states in its own file (nothing that changes the experiment in a default).
HOOK_KEYS = ('loss_weight', 'phases', 'interval', 'offset', 'by_epoch', 'loss_positions')
#: What the DenoiseRep config may change in its control: the method.
METHOD = ('model.backbone', 'custom_hooks')
#: The metric keys the toolboxes log (mmdet CocoMetric, mmseg IoUMetric, BoundaryIoUMetric, Accuracy, ReIDMetric).
METRICS = {'coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75', 'coco/segm_mAP', 'aAcc', 'mIoU', 'mBIoU',
           'accuracy/top1', 'accuracy/top5', 'reid/mAP', 'reid/rank1'}
#: What a metafile Recipe starts with: the authors' public code (then the repository and files) or this
#: project's own recipe (then why).
RECIPES = ("authors' code RG12138/DenoiseRep ", 'project recipe: ')
#: lambda of the DenoiseRep hook: the authors' 0.01 for classification, 0.1 elsewhere.
LOSS_WEIGHT = {'Image Classification': 0.01}
@functools.lru_cache(maxsize=None)
def config(path: str) -> dict:
    """The loaded config at full scale, as plain dicts and lists."""
    return Config.fromfile(str(ROOT / path)).to_dict()


def diff(a, b, path=''):
    """Dotted paths where two config trees differ: a key on one side only, or unequal values (lists and
    tuples are compared whole)."""
    if isinstance(a, dict) and isinstance(b, dict):
        paths = []
        for key in sorted(set(a) | set(b), key=str):
            sub = f'{path}.{key}' if path else str(key)
            paths += [sub] if key not in a or key not in b else diff(a[key], b[key], sub)
        return paths
    return [] if a == b else [path]


def outside(paths, allowed):
    """The paths that no allowed path covers."""
    return [p for p in paths if not any(p == a or p.startswith(a + '.') for a in allowed)]


def base_of(path: str):
    """The ``_base_`` that a config file assigns, read without loading it."""
    tree = ast.parse((ROOT / path).read_text(encoding='utf-8'))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '_base_' for t in node.targets):
            return ast.literal_eval(node.value)
    return None


def denoiserep_hook(cfg: dict) -> dict:
    hooks = [h for h in cfg.get('custom_hooks') or [] if h['type'] == 'mmdenoiserep.DenoiseRepHook']
    assert len(hooks) == 1, cfg.get('custom_hooks')
    return hooks[0]


# the metafile --------------------------------------------------------------------------------------------

def test_metafile_covers_every_denoiserep_config():
    names = [m['Name'] for m in MODELS]
    assert len(names) == len(set(names))
    configs = {osp.relpath(p, ROOT) for p in glob.glob(str(ROOT / 'configs' / '*_denoiserep_*.py'))
               if not p.endswith('_deploy.py')}
    ablations = {m['Config'] for m in MODELS if 'Ablation Of' in m['Metadata']}  # any name (test_ablation_rows.py)
    assert configs | ablations == {m['Config'] for m in MODELS}


def test_model_index_imports_the_metafile():
    index = yaml.safe_load((ROOT / 'model-index.yml').read_text(encoding='utf-8'))
    assert index['Import'] == ['configs/metafile.yml']
    modelindex = pytest.importorskip('modelindex.load_model_index')  # mim's reader of model-index.yml
    loaded = modelindex.load(str(ROOT / 'model-index.yml'))
    assert sorted(m.name for m in loaded.models) == sorted(m['Name'] for m in MODELS)


@pytest.mark.parametrize('model', experiments(ablations=False))
def test_metafile_entry(model):
    """Paths exist and follow <exp>_<data>.py, <exp>_control_<data>.py, <exp>_denoiserep_<data>.py; each
    inherits the one before; results say their source and arm and use the toolboxes' metric names."""
    baseline, control, denoiserep = paths(model)
    for path in (baseline, control, denoiserep):
        assert (ROOT / path).is_file(), path
    exp, data = osp.basename(denoiserep)[:-3].split('_denoiserep_')
    assert (baseline, control) == (f'configs/{exp}_{data}.py', f'configs/{exp}_control_{data}.py')
    assert model['Name'] == f'{exp}_denoiserep_{data}' and model['In Collection'] == 'DenoiseRep'
    assert base_of(denoiserep) == f'./{osp.basename(control)}'
    assert base_of(control) == f'./{osp.basename(baseline)}'
    meta = model['Metadata']
    assert {'Task', 'Dataset', 'Backbone'} <= set(meta)
    paper_arms = []
    for result in model['Results']:
        assert result['Source'] in ('paper', 'measured') and result['Arm'] in ('baseline', 'control', 'denoiserep')
        assert (result['Task'], result['Dataset']) == (meta['Task'], meta['Dataset'])
        assert result['Metrics'] and set(result['Metrics']) <= METRICS, result['Metrics']
        for key, value in result['Metrics'].items():  # mmdet logs fractions, the others percent
            assert isinstance(value, float) and (0 < value < 1 if key.startswith('coco/') else 1 < value <= 100), \
                (key, value)
        if result['Source'] == 'paper':
            paper_arms.append(result['Arm'])
    assert sorted(paper_arms) in ([], ['baseline', 'denoiserep'])


@pytest.mark.parametrize('model', experiments())
def test_metafile_recipe_and_notes(model):
    """Recipe says where the DenoiseRep recipe comes from (the authors' code, named, or this project's own,
    with the reason); Paper Note says where the paper figures come from or why there are none."""
    meta = model['Metadata']
    recipe = meta['Recipe']
    assert isinstance(recipe, str) and recipe.startswith(RECIPES), recipe
    assert len(recipe) > len(next(r for r in RECIPES if recipe.startswith(r))) + 10, recipe  # names or says why
    assert isinstance(meta['Paper Note'], str) and meta['Paper Note'].strip()


# the three configs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('model', experiments(ablations=False))
def test_configs_differ_only_by_extra_training_and_method(model):
    baseline, control, denoiserep = (config(p) for p in paths(model))
    assert outside(diff(baseline, control), EXTRA_TRAINING) == []
    assert outside(diff(control, denoiserep), METHOD) == []
    assert outside(diff(baseline, denoiserep), EXTRA_TRAINING + METHOD) == []

    # the control is extra training from the trained baseline, under the DDP settings of DenoiseRep
    changed = ' '.join(diff(baseline, control))
    assert control['find_unused_parameters'] is True and ('train_cfg' in changed or 'param_scheduler' in changed)
    name = osp.basename(paths(model)[0])[:-3]
    load_from = control['load_from']
    assert load_from.startswith(('https://download.openmmlab.com/', f'work_dirs/{name}/', 'pretrain/')), load_from


@pytest.mark.parametrize('model', experiments(ablations=False))
def test_denoiserep_adds_exactly_the_method(model):
    baseline, _, denoiserep = (config(p) for p in paths(model))
    wrapper = denoiserep['model']['backbone']
    assert wrapper['type'] == 'mmdenoiserep.DenoiseRepBackbone' and not wrapper.get('deploy')
    assert wrapper['backbone'] == baseline['model']['backbone']
    hook = denoiserep_hook(denoiserep)
    hooks = denoiserep['custom_hooks']
    logging = hooks[hooks.index(hook) + 1:hooks.index(hook) + 2]
    assert logging == [dict(type='mmdenoiserep.PhaseLoggingHook')]  # log windows and ETA per phase, curves plot
    others = [h for h in hooks if h is not hook and h not in logging]
    assert others == (baseline.get('custom_hooks') or [])  # the baseline's own hooks are kept
    assert hook['loss_weight'] == LOSS_WEIGHT.get(model['Metadata']['Task'], 0.1)
    assert set(HOOK_KEYS) <= set(hook), f'{paths(model)[2]} leaves {set(HOOK_KEYS) - set(hook)} to defaults'
    assert wrapper['preset'] in LAYER_PRESETS
    loop = denoiserep['train_cfg']
    by_epoch = 'max_iters' not in loop
    assert hook['by_epoch'] is by_epoch  # phases count what the train loop counts
    length = loop['max_epochs'] if by_epoch else loop['max_iters']
    kwargs = {key: value for key, value in hook.items() if key != 'type'}
    phases = [DenoiseRepHook(**kwargs).phase_at(step, step) for step in range(length)]
    assert set(phases) == set(hook['phases']) == {'denoise', 'finetune'} and phases[0] == 'denoise'
    assert phases[-1] == 'finetune' or hook['offset']  # ends fine-tuned (the authors' re-id loop: one last denoise epoch)


@pytest.mark.parametrize('model', experiments())
def test_every_arm_states_its_seed_batch_and_denoiser_lr(model):
    """Paired runs (one seed, the same in control and DenoiseRep), the total batch the LR assumes, and a
    learning rate of the denoisers' own, carried by the control so that the method is the only difference."""
    baseline, control, denoiserep = (config(p) for p in paths(model))
    for cfg in (baseline, control, denoiserep):
        assert isinstance((cfg.get('randomness') or {}).get('seed'), int), paths(model)
        assert isinstance((cfg.get('auto_scale_lr') or {}).get('base_batch_size'), int), paths(model)
    assert control['randomness'] == denoiserep['randomness']
    optim = control['optim_wrapper']
    assert optim.get('constructor') == 'mmdenoiserep.DenoiseRepOptimWrapperConstructor'
    assert optim['paramwise_cfg']['denoiser_lr_mult'] > 0


#: What every config declares (configs/_base_/denoiserep_runtime.py), so that any runner of it (the stock
#: tools, ``mim train``, a plain ``Runner.from_cfg``) writes atomic checkpoints, reseeds, and checks checkpoints.
RUNTIME_HOOKS = {'checkpoint': 'mmdenoiserep.AtomicCheckpointHook', 'reseed': 'mmdenoiserep.ReseedHook',
                 'unfused_checkpoint_check': 'mmdenoiserep.UnfusedCheckpointCheckHook',
                 'fused_checkpoint_check': 'mmdenoiserep.FusedCheckpointCheckHook',
                 'non_finite_check': 'mmdenoiserep.NonFiniteCheckHook'}


@pytest.mark.parametrize('path', sorted(osp.relpath(p, ROOT) for p in glob.glob(str(ROOT / 'configs' / '*.py'))))
def test_every_config_declares_the_runtime_hooks_and_imports(path):
    cfg = config(path)
    assert 'mmdenoiserep' in cfg['custom_imports']['imports'] and not cfg['custom_imports']['allow_failed_imports']
    hooks = cfg['default_hooks']
    assert {key: (hooks.get(key) or {}).get('type') for key in RUNTIME_HOOKS} == RUNTIME_HOOKS


def test_the_checkpoint_hook_keeps_the_stock_arguments():
    """Only the type changes: the stock interval (mmdet's 1 epoch), or the config's own (LeNet-5: 5)."""
    assert config('configs/faster_rcnn_r50_coco.py')['default_hooks']['checkpoint']['interval'] == 1
    assert config('configs/lenet5_fashion_mnist.py')['default_hooks']['checkpoint']['interval'] == 5
    assert config('configs/lenet5_control_fashion_mnist.py')['default_hooks']['checkpoint']['interval'] == 2
    market = config('configs/transreid_ssl_vit_s_market1501.py')['default_hooks']
    assert (market['checkpoint']['interval'], market['logger']['interval']) == (120, 20)


# the README's model zoo ----------------------------------------------------------------------------------

def model_zoo(*args):
    return subprocess.run([sys.executable, str(ROOT / 'tools' / 'model_zoo.py'), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def test_readme_model_zoo_is_up_to_date():
    result = model_zoo('--check')
    assert result.returncode == 0, result.stderr


def test_model_zoo_check_fails_on_an_edited_readme_and_regenerates_it(tmp_path):
    readme = tmp_path / 'README.md'
    shutil.copy(ROOT / 'README.md', readme)
    original = readme.read_text(encoding='utf-8')
    row = next(line for line in original.splitlines() if line.startswith('| Object Detection |'))
    readme.write_text(original.replace(row, row.replace('0.4', '0.5', 1)), encoding='utf-8')

    result = model_zoo('--check', '--readme', readme)
    assert result.returncode == 1 and 'out of date' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    assert model_zoo('--readme', readme).returncode == 0
    assert readme.read_text(encoding='utf-8') == original
    assert model_zoo('--check', '--readme', readme).returncode == 0


def model_zoo_rows():
    """The README's model-zoo rows as lists of cells, in the metafile's order."""
    text = (ROOT / 'README.md').read_text(encoding='utf-8')
    table = text.split('<!-- model-zoo:start -->')[1].split('<!-- model-zoo:end -->')[0]
    lines = table.strip().splitlines()
    assert lines[0].split(' | ')[3:6] == ['Paper baseline', 'Paper +DenoiseRep', 'Recipe'], lines[0]
    return [[cell.strip() for cell in line.strip('|').split(' | ')] for line in lines[2:]]


def test_model_zoo_shows_every_paper_figure_and_the_recipe():
    rows = model_zoo_rows()
    assert len(rows) == len(MODELS)
    for model, row in zip(MODELS, rows):
        figures = {'baseline': row[3], 'denoiserep': row[4]}
        paper = [r for r in model['Results'] if r['Source'] == 'paper']
        for result in paper:
            shown = figures[result['Arm']].split('<br>')
            assert shown == [f'{key} {value:.3f}' if key.startswith('coco/') else f'{key} {value:.2f}'
                             for key, value in result['Metrics'].items()], (model['Name'], shown)
        if not paper:
            assert figures == {'baseline': '—', 'denoiserep': '—'}, model['Name']
        assert model['Metadata']['Recipe'].startswith(row[5]) and row[5] in ("authors' code", 'project recipe')


def test_model_zoo_without_a_recipe_is_a_one_line_error(tmp_path):
    metafile = tmp_path / 'metafile.yml'
    data = yaml.safe_load((ROOT / 'configs' / 'metafile.yml').read_text(encoding='utf-8'))
    del data['Models'][0]['Metadata']['Recipe']
    metafile.write_text(yaml.safe_dump(data), encoding='utf-8')
    readme = tmp_path / 'README.md'
    shutil.copy(ROOT / 'README.md', readme)
    result = model_zoo('--metafile', metafile, '--readme', readme)
    assert result.returncode != 0 and 'Recipe' in result.stderr and data['Models'][0]['Name'] in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert readme.read_text(encoding='utf-8') == (ROOT / 'README.md').read_text(encoding='utf-8')


def test_model_zoo_without_markers_is_a_one_line_error(tmp_path):
    readme = tmp_path / 'README.md'
    readme.write_text('# no table here\n', encoding='utf-8')
    result = model_zoo('--readme', readme)
    assert result.returncode != 0 and 'model-zoo:start' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert readme.read_text(encoding='utf-8') == '# no table here\n'


@pytest.mark.parametrize('model', experiments(ablations=False))
def test_headers_say_where_the_recipe_comes_from(model):
    """The control and DenoiseRep files say in their own header what the metafile's Recipe says: "Recipe:
    authors' code ..." or "Recipe: project recipe ..."; a project recipe states its summed denoiser LR."""
    authors = model['Metadata']['Recipe'].startswith("authors' code")
    for path in paths(model)[1:]:
        header = ''.join(line for line in (ROOT / path).read_text(encoding='utf-8').splitlines(keepends=True)
                         if line.startswith('#'))
        label = "Recipe: authors' code" if authors else 'Recipe: project recipe'
        assert label in header, f'{path}: no {label!r} in its header'
    if not authors:
        assert 'Summed denoiser LR' in (ROOT / paths(model)[2]).read_text(encoding='utf-8'), paths(model)[2]
