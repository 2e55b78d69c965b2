"""Every experiment of configs/metafile.yml, end to end on the tiny data (slow): its DenoiseRep config
trains with ``tools/train.py --tiny`` through both phases, ``tools/fuse_ckpt.py`` fuses the checkpoint, and
the *baseline* config's model loads the fused checkpoint exactly (the keys of its own state_dict, no
``.denoiser.`` key) and gives the unfused model's outputs on a test batch (1e-4, float32).

The experiments are read from the metafile, so a new row is covered without editing this file. To fit
the experiments into the CI budget, each epoch runs on 4 training images (2 iterations), validation and
test on 2 images, and an iteration-based loop runs one denoise and one finetune phase of --tiny's length;
re-id sets keep their whole tiny splits (identity batches need every identity, the metric needs the
queries and the gallery), and only the last checkpoint is written, without the optimizer state (a ViT-B's
checkpoint with its Adam moments is 3 GB, a 20-second write here). CI runs every backbone family and every data
layout at least once (``REPRESENTATIVES``); the others are marked ``every_experiment`` (``python -m pytest -m
every_experiment`` runs them, 28 min for all rows on 2 cores); every config is also checked by the fast tests of
tests/configs/test_configs.py, and every row's model is built and fused by tests/configs/test_every_row_fuses.py.
"""
import re
import subprocess
import sys

import pytest
import torch
from config_helpers import EXPERIMENTS, ROOT, experiments, load, paths
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmdenoiserep import apis, denoising_layers
from mmdenoiserep.testing.tiny_config import TINY_ITERS

pytestmark = pytest.mark.slow
RTOL = 1e-4  # max |fused - unfused| relative to max(1, max |unfused|), as tools/fuse_ckpt.py checks


def run(*args, timeout=900):
    result = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    return result.stdout + result.stderr


def leaf_dataset_key(dataset: dict, key: str) -> str:
    """The dotted key of the dataset inside dataset wrappers (RepeatDataset, ClassBalancedDataset, ...)."""
    while 'dataset' in dataset:
        dataset, key = dataset['dataset'], f'{key}.dataset'
    assert 'datasets' not in dataset, f'{key}: a ConcatDataset needs its own rule here'
    return key


def short_run_options(config: str) -> list:
    """--cfg-options (applied after --tiny) that keep this experiment's tiny run short."""
    cfg = load(config)
    options = []
    if 'num_instances' not in (cfg.train_dataloader.get('batch_sampler') or {}):  # P x K batches need all ids
        options += [f'{leaf_dataset_key(cfg.train_dataloader.dataset, "train_dataloader.dataset")}.indices=4']
    for loader, evaluator in (('val_dataloader', 'val_evaluator'), ('test_dataloader', 'test_evaluator')):
        metrics = cfg[evaluator] if isinstance(cfg[evaluator], (list, tuple)) else [cfg[evaluator]]
        if not any(str(m.get('type', '')).endswith('ReIDMetric') for m in metrics):  # re-id: query + gallery
            options.append(f'{loader}.dataset.indices=2')
    length = cfg.train_cfg.get('max_epochs')
    if 'max_iters' in cfg.train_cfg:  # --tiny gives each phase TINY_ITERS // 4 iterations
        length = 2 * (TINY_ITERS // 4)
        options += [f'train_cfg.max_iters={length}', f'train_cfg.val_interval={length}']
    # full-size models: the last checkpoint only (what fuse_ckpt.py reads), without the optimizer state
    options += [f'default_hooks.checkpoint.interval={length}', 'default_hooks.checkpoint.save_optimizer=False']
    return options


def build_model(config: str, options: list, checkpoint: str) -> torch.nn.Module:
    """The model of ``config`` (with ``options``) holding ``checkpoint`` exactly, in eval mode."""
    return apis.build_model(load(config, *options), checkpoint)


def first_test_batch(config: str, options: list) -> dict:
    cfg = load(config, *options)
    init_default_scope(cfg.default_scope)
    return next(iter(Runner.build_dataloader(cfg.test_dataloader)))


def tensors(output) -> list:
    """The tensors of a ``mode='tensor'`` output (a tensor, or nested tuples/lists/dicts of them)."""
    if torch.is_tensor(output):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    return [t for item in output or [] for t in tensors(item)]


@torch.no_grad()
def outputs(model: torch.nn.Module, batch: dict, proposals=None) -> tuple:
    """(tensors, proposals): the features (``extract_feat``) and the ``mode='tensor'`` outputs of ``model``
    on ``batch``. A two-stage detector's RoI head runs on the given ``proposals`` (default: its own), since
    the near-tied RPN scores of a barely trained model reorder under float32 rounding."""
    data = model.data_preprocessor(batch, False)
    features = model.extract_feat(data['inputs'])
    if not getattr(model, 'with_rpn', False):
        return tensors(features) + tensors(model(**data, mode='tensor')), None
    if proposals is None:
        proposals = model.rpn_head.predict(features, data['data_samples'], rescale=False)
    heads = (model.rpn_head(features), model.roi_head.forward(features, proposals, data['data_samples']))
    return tensors(features) + tensors(heads), proposals


#: The slow runs of CI: every backbone family and every data set (its layout on disk) of the metafile at least once,
#: each (family, data set) pair at most once, through the cheapest rows; the other rows share their family with
#: one of these and their data layout with another. Mask R-CNN SwinV2-T on COCO, the README's example, runs end to
#: end in tests/experiments/test_end_to_end.py::test_main_job, FCN and ResNet through tools/test.py there as well.
REPRESENTATIVES = {
    'mask_rcnn_r50_denoiserep_coco', 'yolov3_d53_denoiserep_coco', 'segformer_mit_b0_denoiserep_ade20k',
    'swinv2_t_denoiserep_in1k', 'vmamba_t_denoiserep_in1k', 'resnet50_denoiserep_cub', 'resnet50_denoiserep_pets',
    'resnet50_denoiserep_flowers102', 'vit_s16_denoiserep_cifar10', 'transreid_ssl_vit_s_denoiserep_dukemtmc',
    'transreid_ssl_vit_s_denoiserep_msmt17', 'transreid_ssl_vit_s_denoiserep_cuhk03',
    'transreid_vit_b_ics_denoiserep_vehicleid', 'clip_reid_vit_b_denoiserep_market1501',
    'lenet5_denoiserep_fashion_mnist'}


def family_and_data_set(metadata: dict) -> tuple:
    """(backbone family, data set) of a metafile row: 'SwinV2-T' and 'SwinV2-S' are one family."""
    return metadata['Backbone'].split('-')[0], metadata['Dataset']


def representatives_first():
    """The metafile's experiments, those outside REPRESENTATIVES marked every_experiment."""
    return [pytest.param(*p.values, id=p.id, marks=[*p.marks, *([] if p.id in REPRESENTATIVES
                                                                else [pytest.mark.every_experiment])])
            for p in experiments(ablations=False)]  # the ablation rows: tests/experiments/test_reid_ablations.py


def test_representatives_cover_every_family_and_data_set_once():
    by_name = {m['Name']: m['Metadata'] for m in EXPERIMENTS}
    assert REPRESENTATIVES <= set(by_name)
    covered = {family_and_data_set(by_name[name]) for name in REPRESENTATIVES}
    assert len(covered) == len(REPRESENTATIVES)  # no pair twice
    families, data_sets = zip(*map(family_and_data_set, by_name.values()))
    assert {family for family, _ in covered} == set(families)
    assert {data_set for _, data_set in covered} == set(data_sets)


@pytest.mark.timeout(1500)
@pytest.mark.parametrize('model', representatives_first())
def test_experiment_trains_fuses_and_loads_into_its_baseline(model, tmp_path):
    baseline, _, denoiserep = paths(model)
    options = short_run_options(denoiserep)

    work = tmp_path / 'train'
    log = run('tools/train.py', denoiserep, '--tiny', '--work-dir', work, '--cfg-options', *options)
    assert "phase 'denoise' from" in log and "phase 'finetune' from" in log
    assert re.search(r'DenoiseRepHook: denoisers learned, iterations \d+-\d+ \(loss / zero predictor', log)
    assert 'denoisers learned: loss / zero predictor (1.0 = nothing learned) mean' in log  # the closing table
    converted, selected, total = map(int, re.search(
        r"DenoiseRepBackbone: \w+: preset '\w+' \([^)]*\)[^:]*: (\d+) of (\d+) selected Linear/Conv2d layers "
        r'converted \(\d+ of (\d+)', log).groups())
    assert converted == selected > 0
    checkpoint = (work / 'last_checkpoint').read_text().strip()

    fused = tmp_path / 'fused.pth'
    log = run('tools/fuse_ckpt.py', denoiserep, checkpoint, fused, '--tiny')  # checked in the stripped config
    n_unfused, n_fused = map(int, re.search(r'parameters: (\d+) unfused -> (\d+) fused', log).groups())

    unfused_model = build_model(denoiserep, options, checkpoint)
    fused_model = build_model(baseline, options, fused)  # exactly the baseline's keys
    assert not denoising_layers(fused_model)
    assert not any('.denoiser.' in key for key in fused_model.state_dict())
    assert sum(p.numel() for p in fused_model.parameters()) == n_fused < n_unfused

    batch = first_test_batch(baseline, options)
    expected, proposals = outputs(unfused_model, batch)
    actual, _ = outputs(fused_model, batch, proposals)
    assert len(actual) == len(expected) > 0
    scale = max(1.0, max(e.abs().max().item() for e in expected))
    for a, e in zip(actual, expected):
        assert a.shape == e.shape
        assert (a - e).abs().max().item() <= RTOL * scale
    print(f'{model["Name"]}: {converted} of {total} layers converted; '
          f'parameters {n_unfused} training -> {n_fused} fused')
