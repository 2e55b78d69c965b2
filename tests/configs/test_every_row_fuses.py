"""Every metafile row's DenoiseRep config fuses as the README shows it (``tools/fuse_ckpt.py CONFIG CKPT OUT``,
checked in ``strip_denoiserep(cfg.model)``, the one deploy form) into a checkpoint that the row's baseline
config loads with strict=True and that gives the unfused model's features there (1e-4 of their scale, float32),
and tools/benchmark.py builds its three models from the same config.

Building a model must not change the config it came from: mmdet's DETRHead writes a tensor into
``loss_cls.class_weight``, and the baseline built next from the same config failed ("Expected class_weight to
have type float"). The checkpoints here hold random denoisers (std 0.05: W' far from W), the model sizes of
``--tiny``. A row whose metafile ``Fused`` is false (a denoiser outside the backbone that nothing after it can absorb:
``mmdenoiserep.PostBackboneDenoiser``) is refused by both tools in one line, by design.

A *dataset variant* (a row whose DenoiseRep model config is an earlier row's up to the data set's label counts,
``DATASET_KEYS``: the re-id rows of one family on another data set, the fine-grained rows of one backbone on
Pets and Flowers-102 after CUB) fuses in the default suite only through that earlier row;
``test_dataset_variants_differ_from_their_row_only_by_label_counts`` checks the claim for every variant in the
default suite, and the variants' own fuse and benchmark runs are marked ``every_experiment`` (with ``slow``).
"""
import functools

import pytest
import torch
from config_helpers import experiments, load, paths
from tool_helpers import load_tool, run_tool

from mmdenoiserep import denoiser_parameters, denoising_layers
from mmdenoiserep.apis import build_model
from mmdenoiserep.utils import InputError, load_checkpoint_file, load_state_dict_exact


#: model-config keys that only count a data set's labels (identities, cameras, views)
DATASET_KEYS = frozenset({'num_classes', 'num_cameras', 'num_views'})


def without_label_counts(value):
    """A config value with every ``DATASET_KEYS`` entry of every nested dict left out."""
    if isinstance(value, dict):
        return {k: without_label_counts(v) for k, v in value.items() if k not in DATASET_KEYS}
    if isinstance(value, (list, tuple)):
        return [without_label_counts(v) for v in value]
    return value


def model_up_to_label_counts(config: str) -> dict:
    cfg = load(config, tiny=False)
    return without_label_counts({'model': cfg.model.to_dict(), 'data_preprocessor': cfg.get('data_preprocessor')})


@functools.lru_cache(maxsize=None)
def dataset_variants() -> dict:
    """{variant row name: the earlier row whose model it is up to label counts}."""
    firsts, variants = {}, {}
    for row in experiments():
        name, config = row.id, row.values[0]['Config']
        key = repr(model_up_to_label_counts(config))
        variants.update({name: firsts[key]} if key in firsts else {})
        firsts.setdefault(key, name)
    return variants


def rows_with_variants_marked():
    """The metafile rows, dataset variants marked slow and every_experiment (see the module docstring)."""
    variants = dataset_variants()
    return [pytest.param(*p.values, id=p.id, marks=[*p.marks, *([pytest.mark.slow, pytest.mark.every_experiment]
                                                                if p.id in variants else [])])
            for p in experiments()]


def test_dataset_variants_differ_from_their_row_only_by_label_counts():
    """Each variant's DenoiseRep model is its row's but for the label counts (the ablation rows of a data set have
    the DenoiseRep row's model itself: they change the training); the row it defers to is fused in the default
    suite; a different model, e.g. a changed layer preset, is no variant."""
    by_name = {p.id: p.values[0] for p in experiments()}
    variants = dataset_variants()
    assert {'transreid_ssl_vit_s_denoiserep_dukemtmc', 'transreid_vit_b_ics_denoiserep_msmt17',
            'clip_reid_vit_b_denoiserep_market1501', 'vit_b16_denoiserep_pets', 'swinv2_t_denoiserep_flowers102'
            } <= variants.keys()
    assert 'transreid_vit_b_ics_denoiserep_vehicleid' not in variants  # 256x256, no SIE: another model
    assert 'vit_b16_denoiserep_cifar10' not in variants and 'swinv2_t_denoiserep_cub' not in variants  # input sizes
    for variant, first in variants.items():
        assert first not in variants
        assert model_up_to_label_counts(by_name[variant]['Config']) == model_up_to_label_counts(
            by_name[first]['Config'])
    changed = without_label_counts(load(by_name['transreid_ssl_vit_s_denoiserep_dukemtmc']['Config'],
                                        'model.backbone.preset=all', tiny=False).model.to_dict())
    assert changed != model_up_to_label_counts(by_name['transreid_ssl_vit_s_denoiserep_market1501']['Config'])['model']


def fuses(row) -> bool:
    """The metafile's ``Fused`` (default true): whether the row's DenoiseRep model fuses into its baseline."""
    return row['Metadata'].get('Fused', True)


@pytest.mark.parametrize('row', rows_with_variants_marked())
def test_fuse_ckpt_without_baseline_config_loads_into_the_baseline(row, tmp_path):
    baseline_config, _, config = paths(row)
    cfg = load(config)
    torch.manual_seed(0)
    model = build_model(cfg)  # leaves cfg as it was (test_building_a_model_leaves_its_config_as_it_was)
    layers = [name for name, _ in denoising_layers(model)]
    assert layers and (all(name.startswith('backbone.') for name in layers) or not fuses(row))
    with torch.no_grad():
        for parameter in denoiser_parameters(model):
            parameter.normal_(std=0.05)
    checkpoint, fused = tmp_path / 'epoch_1.pth', tmp_path / 'fused.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), checkpoint)

    result = run_tool('fuse_ckpt', config, checkpoint, fused, '--tiny')
    if not fuses(row):
        assert result.returncode != 0 and 'do not fuse' in result.stderr and not fused.exists(), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        return
    assert result.returncode == 0, result.stderr

    baseline = build_model(load(baseline_config))
    assert not denoising_layers(baseline)
    load_state_dict_exact(baseline, load_checkpoint_file(str(fused))['state_dict'])  # strict: the stock keys

    fuse_tool = load_tool('fuse_ckpt')  # its feature extraction: extract_feat, else the backbone
    inputs = torch.randn(fuse_tool.example_input_shape(cfg.model) or (1, 3, 224, 224),
                         generator=torch.Generator().manual_seed(1))
    unfused, fused_out = fuse_tool.features(model, inputs), fuse_tool.features(baseline, inputs)
    assert len(unfused) == len(fused_out) > 0
    for actual, expected in zip(fused_out, unfused):
        scale = max(1.0, expected.abs().max().item())
        torch.testing.assert_close(actual, expected, rtol=0, atol=1e-4 * scale)


@pytest.mark.parametrize('row', rows_with_variants_marked())
def test_benchmark_builds_its_models_from_every_denoiserep_config(row):
    benchmark = load_tool('benchmark')
    config = paths(row)[2]
    if not fuses(row):
        with pytest.raises(InputError, match='do not fuse'):
            benchmark.build_models(benchmark.parse_args([config, '--tiny']))
        return
    cfg, baseline, unfused, fused, _ = benchmark.build_models(benchmark.parse_args([config, '--tiny']))
    assert denoising_layers(unfused) and not denoising_layers(baseline) and not denoising_layers(fused)
    stock = {k: v for k, v in unfused.state_dict().items() if '.denoiser.' not in k}
    assert stock.keys() == baseline.state_dict().keys() == fused.state_dict().keys()
    assert all(torch.equal(stock[k], v) for k, v in baseline.state_dict().items())


def test_building_a_model_leaves_its_config_as_it_was():
    cfg = load('configs/detr_r50_denoiserep_coco.py')
    before = cfg.model.to_dict()
    build_model(cfg)
    assert cfg.model.to_dict() == before
    assert isinstance(cfg.model.bbox_head.loss_cls.class_weight, float)  # DETRHead writes a tensor here


def test_build_model_adds_the_config_level_data_preprocessor():
    cfg = load('configs/resnet50_denoiserep_in1k.py', 'model.backbone.backbone.depth=18',
               'model.head.in_channels=512')
    assert 'data_preprocessor' not in cfg.model and cfg.data_preprocessor is not None
    model = build_model(cfg)
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx(cfg.data_preprocessor['mean'])
