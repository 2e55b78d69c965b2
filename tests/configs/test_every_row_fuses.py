"""Every metafile row's DenoiseRep config fuses as the README shows it (``tools/fuse_ckpt.py CONFIG CKPT OUT``,
checked in ``strip_denoiserep(cfg.model)``, the one deploy form) into a checkpoint that the row's baseline
config loads with strict=True and that gives the unfused model's features there (1e-4 of their scale, float32),
and tools/benchmark.py builds its three models from the same config.

Building a model must not change the config it came from: mmdet's DETRHead writes a tensor into
``loss_cls.class_weight``, and the baseline built next from the same config failed ("Expected class_weight to
have type float"). The checkpoints here hold random denoisers (std 0.05: W' far from W), the model sizes of
``--tiny``. A row whose metafile ``Fused`` is false (a denoiser outside the backbone that nothing after it can absorb:
``mmdenoiserep.PostBackboneDenoiser``) is refused by both tools in one line, by design.
"""

import pytest
import torch
from config_helpers import experiments, load, paths
from tool_helpers import load_tool, run_tool

from mmdenoiserep import denoiser_parameters, denoising_layers
from mmdenoiserep.apis import build_model
from mmdenoiserep.utils import InputError, load_checkpoint_file, load_state_dict_exact


def fuses(row) -> bool:
    """The metafile's ``Fused`` (default true): whether the row's DenoiseRep model fuses into its baseline."""
    return row['Metadata'].get('Fused', True)


@pytest.mark.parametrize('row', experiments())
def test_fuse_ckpt_without_baseline_config_loads_into_the_baseline(row, tmp_path):
    baseline_config, _, config = paths(row)
    cfg = load(config)
    torch.manual_seed(0)
    model = build_model(cfg)  # leaves cfg as it was (test_building_a_model_leaves_its_config_as_it_was)
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


@pytest.mark.parametrize('row', experiments())
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
