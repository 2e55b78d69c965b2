"""The package as the stock OpenMMLab tools meet it, each check in a fresh interpreter (nothing registered
by an earlier test, no repository root on ``sys.path``):

- ``_base_ = 'mmdenoiserep::denoiserep/<config>.py'`` loads and its model builds from any folder, for every
  config family (mmdet, mmseg, mmpretrain, re-id: mmpretrain types under our scope), from the editable
  install and from an installed wheel;
- the checkpoints this project's runs write (mmengine's message hub: HistoryBuffer, numpy values) load in
  mmdet's ``init_detector``, mmseg's and mmpretrain's ``init_model``, mmpretrain's ``get_model`` and
  mmengine's ``load_checkpoint`` once mmdenoiserep is imported (every config's ``custom_imports`` does it),
  with torch's ``weights_only`` loading on; and not without the import (so the checks can fail).
"""
import argparse
import ast
import functools
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap
import zipfile

import pytest
import torch
from mmengine.config import Config
from tool_helpers import ROOT, run_tool

from mmdenoiserep.apis import build_model
from mmdenoiserep.utils import load_checkpoint_file

#: One config per family: (config, the model class it builds). mmdet with an mmpretrain backbone, mmseg,
#: mmpretrain, and re-id (a config of ours from scratch: every node of it gets our scope when inherited).
FAMILIES = [('mask_rcnn_swinv2_t_denoiserep_coco.py', 'MaskRCNN'),
            ('segformer_mit_b0_denoiserep_ade20k.py', 'EncoderDecoder'),
            ('swinv2_t_denoiserep_in1k.py', 'ImageClassifier'),
            ('transreid_ssl_vit_s_denoiserep_market1501.py', 'ImageClassifier')]

#: Run in a temporary folder: every family's config inherited by a user's config there, loaded and its
#: model built as mmengine's Runner builds it (the config's default scope, mmengine's root MODELS).
INHERIT = textwrap.dedent('''
    import json, os, sys
    import mmdenoiserep  # registers the `mmdenoiserep::` scope with mmengine (the tools import it)
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    from mmdenoiserep import denoising_layers
    result = dict(package=os.path.dirname(mmdenoiserep.__file__), path=[os.path.realpath(p) for p in sys.path],
                  built={})
    for name in json.loads(sys.argv[1]):
        child = 'child_' + name
        with open(child, 'w') as f:
            f.write(f"_base_ = 'mmdenoiserep::denoiserep/{name}'\\nrandomness = dict(seed=1)\\n")
        cfg = Config.fromfile(child)
        init_default_scope(cfg.default_scope)
        model = MODELS.build(cfg.model)
        result['built'][name] = dict(model=type(model).__name__, scope=cfg.model.get('_scope_'),
                                     layers=len(denoising_layers(model)), seed=cfg.randomness.seed)
    print(json.dumps(result))
''')


def python(script: str, *args: str, cwd, pythonpath=None) -> subprocess.CompletedProcess:
    """``script`` in a fresh interpreter of this environment, in ``cwd``, with ``PYTHONPATH`` set to
    ``pythonpath`` only (none by default: the repository root is not on ``sys.path``)."""
    env = {key: value for key, value in os.environ.items() if key != 'PYTHONPATH'}
    if pythonpath is not None:
        env['PYTHONPATH'] = str(pythonpath)
    return subprocess.run([sys.executable, '-c', script, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def inherit_every_family(cwd, pythonpath=None) -> dict:
    """Run ``INHERIT`` in ``cwd``; its result, after checking every family's model built."""
    done = python(INHERIT, json.dumps([name for name, _ in FAMILIES]), cwd=cwd, pythonpath=pythonpath)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert str(ROOT) not in result['path']  # only `pip install -e .` knows where the package is
    for name, model in FAMILIES:
        built = result['built'][name]
        assert built['model'] == model and built['layers'] > 0 and built['seed'] == 1, (name, built)
    # re-id: the model node is ours (no toolbox base), so it is built under our scope
    assert result['built']['transreid_ssl_vit_s_denoiserep_market1501.py']['scope'] == 'mmdenoiserep'
    return result


def test_package_configs_inherit_from_any_folder_editable_install(tmp_path):
    result = inherit_every_family(tmp_path)
    assert result['package'] == str(ROOT / 'mmdenoiserep')


def test_package_configs_inherit_from_any_folder_wheel_install(tmp_path):
    """A wheel built from the working tree's files (as a clone has them), installed into a folder of its own:
    its .mim holds copies of every config and tool, and the build leaves the source tree without one.
    About 18 s on 2 busy cores (pip, then the four builds)."""
    source, wheels, site = tmp_path / 'source', tmp_path / 'wheels', tmp_path / 'site'
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split('\0')
    for name in filter(None, files):
        if osp.isfile(ROOT / name):
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((ROOT / name).read_bytes())
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check', '-q']
    subprocess.run([*pip, 'wheel', str(source), '--no-deps', '--no-build-isolation', '-w', str(wheels)],
                   check=True, capture_output=True, timeout=600)
    assert not (source / 'mmdenoiserep' / '.mim').exists()
    wheel, = wheels.glob('mmdenoiserep-*.whl')
    assert not [n for n in zipfile.ZipFile(wheel).namelist() if '__pycache__' in n or n.endswith('.pyc')]
    subprocess.run([*pip, 'install', '--no-deps', '--no-compile', '--target', str(site), str(wheel)], check=True,
                   capture_output=True, timeout=600)
    mim = site / 'mmdenoiserep' / '.mim'
    shipped = {p.name for p in (mim / 'configs' / 'denoiserep').iterdir()}
    assert shipped == {osp.basename(p) for p in glob.glob(str(ROOT / 'configs' / '*'))
                       if osp.isfile(p) or osp.basename(p) == '_base_'}
    assert (mim / 'configs' / 'denoiserep' / '_base_' / 'denoiserep_runtime.py').is_file()
    assert (mim / 'model-index.yml').is_file() and (mim / 'configs' / 'metafile.yml').is_file()
    assert (mim / 'tools' / 'train.py').is_file()
    assert not any(p.is_symlink() for p in mim.rglob('*'))
    (tmp_path / 'work').mkdir()
    result = inherit_every_family(tmp_path / 'work', pythonpath=site)
    assert result['package'] == str(site / 'mmdenoiserep')


def own_assignment(tree: ast.Module, name: str):
    """The value node that a config file assigns to ``name`` at top level (None if it does not)."""
    return next((n.value for n in tree.body if isinstance(n, ast.Assign)
                 and any(getattr(t, 'id', None) == name for t in n.targets)), None)


def test_every_config_imports_mmdenoiserep():
    """Every config declares ``custom_imports`` of mmdenoiserep (so the stock tools load our checkpoints,
    below): read from the files, by induction over ``_base_``: a config that assigns ``custom_imports``
    lists mmdenoiserep (and fails on a failed import), one that does not inherits it from a config of ours
    (a toolbox base gives none). One config loaded shows the stock imports kept."""
    for path in sorted(glob.glob(str(ROOT / 'configs' / '*.py'))):
        tree = ast.parse(open(path, encoding='utf-8').read())
        custom_imports, base = own_assignment(tree, 'custom_imports'), own_assignment(tree, '_base_')
        if custom_imports is None:
            bases = ast.literal_eval(base) if base is not None else []
            assert any('::' not in b for b in ([bases] if isinstance(bases, str) else bases)), path
        else:
            options = {k.arg: ast.literal_eval(k.value) for k in custom_imports.keywords}
            assert 'mmdenoiserep' in options['imports'] and options['allow_failed_imports'] is False, path
    swin = Config.fromfile(str(ROOT / 'configs' / 'mask_rcnn_swinv2_t_label_free_coco_unlabeled.py'),
                           import_custom_modules=False)
    assert swin.custom_imports.imports == ['mmpretrain.models', 'mmdenoiserep']


#: Run in a fresh interpreter: ``API(config, checkpoint)``, first with mmdenoiserep never imported (the
#: config loaded without its custom_imports), which must fail in torch's weights_only check where
#: ``refused`` says so; then as a user calls it (config path: custom_imports processed). Then torch.load
#: must still refuse a global outside the allowlist, which holds exactly mmdenoiserep's globals (and the
#: ones torch itself adds when torch.distributed.tensor is imported).
STOCK_LOAD = textwrap.dedent('''
    import json, pickle, sys
    import torch
    from mmengine.config import Config
    api, config, checkpoint, refused, foreign = sys.argv[1:]
    default = list(torch.serialization.get_safe_globals())

    def call(custom_imports):
        if api == 'mmengine.load_checkpoint':
            from mmengine.runner import load_checkpoint
            if custom_imports:
                import mmdenoiserep  # noqa: F401  (what a user of the bare API does)
            return load_checkpoint(torch.nn.Module(), checkpoint)
        cfg = config if custom_imports else Config.fromfile(config, import_custom_modules=False)
        if api == 'mmdet.init_detector':
            from mmdet.apis import init_detector
            return init_detector(cfg, checkpoint, device='cpu')
        if api == 'mmseg.init_model':
            from mmseg.apis import init_model
            return init_model(cfg, checkpoint, device='cpu')
        if api == 'mmpretrain.init_model':
            from mmpretrain.apis import init_model
            return init_model(cfg, checkpoint)
        if api == 'mmpretrain.get_model':
            from mmpretrain.apis import get_model
            return get_model(cfg, pretrained=checkpoint)
        raise ValueError(api)

    result = {}
    if refused == 'yes':
        try:
            call(custom_imports=False)
        except pickle.UnpicklingError as error:
            result['refused'] = str(error).splitlines()[0]
        result['imported_before'] = 'mmdenoiserep' in sys.modules
    call(custom_imports=True)
    result['imported'] = 'mmdenoiserep' in sys.modules
    from mmdenoiserep.utils import checkpoint_safe_globals
    added = [g for g in torch.serialization.get_safe_globals() if g not in default]
    others = [g for g in added if not getattr(g, '__module__', '').startswith('torch.')]  # torch adds DTensor's
    result['allowlist_is_ours'] = set(others) == set(checkpoint_safe_globals())
    try:
        torch.load(foreign)
    except pickle.UnpicklingError:
        result['foreign_refused'] = True
    print(json.dumps(result))
''')


#: The real run: tools/train.py --tiny of LeNet-5 with DenoiseRep (two epochs, a few seconds).
RUN = 'lenet5_denoiserep_fashion_mnist'


@pytest.fixture(scope='module')
def written(tmp_path_factory):
    """``written(name)``: a checkpoint as this project's runs write them, made on first use. For ``RUN``, the
    last epoch checkpoint of a real --tiny run; for another config, that checkpoint with the state_dict of
    the config's model (the same message hub, meta and optimizer state); ``'foreign'``: a file pickling a
    global that no allowlist holds."""
    folder = tmp_path_factory.mktemp('written')

    @functools.lru_cache(maxsize=None)
    def written(name: str) -> str:
        path = str(folder / f'{name}.pth')
        if name == 'foreign':
            torch.save({'meta': argparse.Namespace(seed=0)}, path)
        elif name == RUN:
            done = run_tool('train', f'configs/{RUN}.py', '--tiny', '--work-dir', folder / RUN)
            assert done.returncode == 0, done.stderr[-3000:]
            path, = glob.glob(str(folder / RUN / 'epoch_2.pth'))
            history = load_checkpoint_file(path)['message_hub']['log_scalars']['train/loss']
            assert type(history).__name__ == 'HistoryBuffer'  # what torch's weights_only loading refuses
        else:
            real = load_checkpoint_file(written(RUN))
            real['meta'].pop('dataset_meta', None)  # FashionMNIST's classes
            model = build_model(Config.fromfile(str(ROOT / 'configs' / f'{name}.py')))
            torch.save({**real, 'state_dict': model.state_dict()}, path)
        return path

    return written


@pytest.mark.parametrize('api,config,checkpoint,refused', [
    ('mmengine.load_checkpoint', None, RUN, True),
    ('mmpretrain.get_model', RUN, RUN, False),
    ('mmpretrain.init_model', 'lenet5_fashion_mnist', 'lenet5_fashion_mnist', True),
    ('mmdet.init_detector', 'faster_rcnn_r50_coco', 'faster_rcnn_r50_coco', True),
    ('mmseg.init_model', 'segformer_mit_b0_ade20k', 'segformer_mit_b0_ade20k', True),
    # 17 s (a DenoiseRep ResNet-50 detector built twice); get_model covers a DenoiseRep checkpoint
    pytest.param('mmdet.init_detector', 'faster_rcnn_r50_denoiserep_coco', 'faster_rcnn_r50_denoiserep_coco', False,
                 marks=pytest.mark.slow),
])
def test_stock_apis_load_our_checkpoints_once_mmdenoiserep_is_imported(api, config, checkpoint, refused, written,
                                                                      tmp_path):
    """``refused``: the call without mmdenoiserep fails first (a DenoiseRep config cannot be built without
    importing it: there only the user's call is made)."""
    config = '-' if config is None else str(ROOT / 'configs' / f'{config}.py')
    done = python(STOCK_LOAD, api, config, written(checkpoint), 'yes' if refused else 'no', written('foreign'),
                  cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if refused:
        assert result['imported_before'] is False
        assert result.get('refused', '').startswith('Weights only load failed'), result
    assert result['imported'] and result['allowlist_is_ours'] and result.get('foreign_refused'), result

