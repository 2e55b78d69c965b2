"""DenoiseRepBackbone: default layer selections per backbone, stock keys, exact fusion into the stock model."""
import copy

import pytest
import torch
from mmengine.registry import init_default_scope
from torch import nn

from mmdenoiserep import denoiser_parameters, denoising_layers, fuse_denoisers
from mmdenoiserep.models import LAYER_TYPES, is_denoiserep_backbone, strip_denoiserep
from mmdenoiserep.utils import load_state_dict_exact

SMALL_SWIN = dict(embed_dims=32, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4])
# (scope, backbone config, input size, names of called layers that must stay plain)
BACKBONES = {
    'mmdet.ResNet-50': ('mmdet', dict(type='ResNet', depth=50), 64, set()),
    'mmseg.ResNetV1c-18': ('mmseg', dict(type='ResNetV1c', depth=18), 64, set()),
    'mmpretrain.ResNet-18': ('mmpretrain', dict(type='ResNet', depth=18), 64, set()),
    'mmdet.SwinTransformer': ('mmdet', dict(type='SwinTransformer', **SMALL_SWIN, window_size=4), 64, set()),
    'mmpretrain.SwinTransformerV2': ('mmpretrain', dict(
        type='SwinTransformerV2', arch=dict(**SMALL_SWIN, extra_norm_every_n_blocks=0), img_size=64,
        window_size=4, pad_small_map=True), 64, {'cpb_mlp'}),
    'mmpretrain.VisionTransformer': ('mmpretrain', dict(
        type='VisionTransformer', arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=32, patch_size=8), 32, set()),
    'mmpretrain.DeiT-tiny': ('mmpretrain', dict(type='VisionTransformer', arch='deit-tiny', img_size=32,
                                                patch_size=16), 32, set()),
    'mmdet.DarkNet-53': ('mmdet', dict(type='Darknet', depth=53), 64, set()),
    'mmseg.MiT-b0': ('mmseg', dict(type='MixVisionTransformer', embed_dims=32, num_layers=[1, 1, 1, 1],
                                   num_heads=[1, 2, 5, 8]), 64, set()),
}


def build(scope, cfg):
    init_default_scope(scope)
    from mmengine.registry import MODELS
    return MODELS.build(copy.deepcopy(cfg))


def applied_layers(model, size):
    """Names of the LAYER_TYPES modules whose weight the forward applies (what the default selection must
    convert), told by the gradient their weight gets from the outputs: (those called, in call order;
    those never called, whose weight another module reads)."""
    called = []
    hooks = [m.register_forward_pre_hook(lambda m, i, n=n: called.append(n))
             for n, m in model.named_modules() if type(m) in LAYER_TYPES and not isinstance(m, nn.MultiheadAttention)]
    model.eval()  # some backbones' train() returns None: do not chain
    model.zero_grad()
    sum(out.sum() for out in outputs(model, torch.randn(1, 3, size, size))).backward()
    for h in hooks:
        h.remove()
    linears = [t for t in LAYER_TYPES if t is not nn.MultiheadAttention]
    applied = [n for n, m in model.named_modules() if type(m) in linears and m.weight.grad is not None]
    for name, m in model.named_modules():  # attention reads its projections: in_proj_weight, out_proj.weight
        if isinstance(m, nn.MultiheadAttention):
            applied += [f'{name}.in_proj'] * (m.in_proj_weight.grad is not None)
            applied += [f'{name}.out_proj'] * (m.out_proj.weight.grad is not None)
    model.zero_grad()
    return [n for n in dict.fromkeys(called) if n in applied], [n for n in applied if n not in called]


def outputs(model, x):
    model.eval()
    out = model(x)
    return list(out) if isinstance(out, (list, tuple)) else [out]


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_default_selection_and_exact_fusion(name):
    scope, inner, size, plain_parts = BACKBONES[name]
    torch.manual_seed(0)
    stock = build(scope, inner)
    called, read = applied_layers(stock, size)
    expected = [n for n in called + read if not any(p in n for p in plain_parts)]
    model = build(scope, dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=inner,
                              example_input_shape=(1, 3, size, size)))
    assert type(model) is type(stock)
    layers = denoising_layers(model)
    assert sorted(n for n, _ in layers) == sorted(expected)
    steps = {n: layer.step for n, layer in layers}
    assert sorted(steps.values()) == list(range(1, len(expected) + 1))
    called_steps = [steps[n] for n in called if n in steps]
    assert called_steps == sorted(called_steps, reverse=True)  # execution order
    stock_keys = set(stock.state_dict())
    assert stock_keys <= set(model.state_dict())
    assert all('.denoiser.' in k for k in set(model.state_dict()) - stock_keys)

    model.double()
    with torch.no_grad():
        for p in denoiser_parameters(model):
            p.normal_(std=0.2)
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    with torch.no_grad():
        expected_out = outputs(model, x)
        fuse_denoisers(model)
        load_state_dict_exact(stock.double(), model.state_dict())  # strict (see its docstring)
        for actual, reference in zip(outputs(stock, x), expected_out):
            torch.testing.assert_close(actual, reference, rtol=1e-9, atol=1e-9)


def test_resnet_selection_covers_stem_and_downsample():
    model = build('mmdet', dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=dict(type='ResNet', depth=50),
                                example_input_shape=(1, 3, 64, 64)))
    names = [n for n, _ in denoising_layers(model)]
    assert len(names) == 53 and 'conv1' in names and 'layer1.0.downsample.0' in names
    assert max(denoising_layers(model), key=lambda item: item[1].step)[0] == 'conv1'


def test_strip_gives_the_deploy_form_and_deploy_is_refused():
    inner = dict(type='ResNet', depth=18)
    wrapped = dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=inner)
    with pytest.raises(TypeError, match='^DenoiseRepBackbone takes no deploy argument: the deploy form is the '
                                        r'baseline config \(the model of strip_denoiserep\(cfg.model\)\)'):
        build('mmpretrain', dict(wrapped, deploy=True))
    model_cfg = dict(type='ImageClassifier', backbone=wrapped, neck=None)
    assert strip_denoiserep(model_cfg) == dict(type='ImageClassifier', backbone=inner, neck=None)
    listed = dict(type='X', stages=[dict(wrapped, type='DenoiseRepBackbone'), dict(norm=None)])  # unscoped
    assert strip_denoiserep(listed) == dict(type='X', stages=[inner, dict(norm=None)])
    assert type(strip_denoiserep(dict(stages=(wrapped,)))['stages']) is tuple
    assert not is_denoiserep_backbone(dict(backbone=wrapped)) and not is_denoiserep_backbone(dict(type='ResNet'))


def test_pretrained_init_after_build_reaches_the_converted_layers(tmp_path):
    """init_cfg=Pretrained (applied by the runner after build) loads into the reused Parameters."""
    inner = dict(type='ResNet', depth=18)
    source = build('mmpretrain', inner)
    with torch.no_grad():
        source.conv1.weight.normal_()
    torch.save({'state_dict': source.state_dict()}, tmp_path / 'pretrained.pth')
    model = build('mmpretrain', dict(
        type='mmdenoiserep.DenoiseRepBackbone', example_input_shape=(1, 3, 32, 32),
        backbone=dict(inner, init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'pretrained.pth')))))
    model.init_weights()
    assert isinstance(model.conv1, nn.Conv2d) and denoising_layers(model)
    torch.testing.assert_close(model.conv1.weight, source.conv1.weight)
    assert all(p.abs().sum() == 0 for p in denoiser_parameters(model))  # denoisers keep their zero init


def test_bad_backbone_config():
    with pytest.raises(TypeError, match='backbone=dict'):
        build('mmdet', dict(type='mmdenoiserep.DenoiseRepBackbone', backbone='ResNet'))


def test_swinv2_qkv_read_by_its_attention_is_denoised_in_every_phase():
    """SwinV2's window attention applies qkv.weight itself (F.linear): the qkv layers record their input,
    show W in the denoise phase and W' otherwise, and fusion gives the attention back its own forward."""
    from mmdenoiserep import denoise_loss, set_phase
    scope, inner, size, _ = BACKBONES['mmpretrain.SwinTransformerV2']
    inner = dict(inner, drop_path_rate=0.0)
    torch.manual_seed(0)
    stock = build(scope, inner).double()
    model = build(scope, dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=inner,
                              example_input_shape=(1, 3, size, size))).double()
    model.load_state_dict(stock.state_dict(), strict=False)
    with torch.no_grad():
        for p in denoiser_parameters(model):
            p.normal_(std=0.2)
    qkv = [name for name, _ in denoising_layers(model) if name.endswith('attn.w_msa.qkv')]
    assert len(qkv) == 5  # one per block
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    set_phase(model, 'denoise')
    model.train(), stock.train()
    for actual, reference in zip(outputs_train(model, x), outputs_train(stock, x)):
        torch.testing.assert_close(actual, reference, rtol=1e-12, atol=1e-12)  # W, not W'
    losses = denoise_loss(model, per_layer=True)
    assert set(qkv) <= set(losses)
    sum(losses[name] for name in qkv).backward()
    assert all(model.get_submodule(name).denoiser.weight.grad.abs().sum() > 0 for name in qkv)
    copied = copy.deepcopy(model)  # the wrapped forward follows the copy
    copied_attention = copied.get_submodule(qkv[0][:-len('.qkv')])
    assert copied_attention.forward.__self__ is copied_attention
    fuse_denoisers(model)
    assert not any('forward' in vars(m) for m in model.modules())


def outputs_train(model, x):
    out = model(x)
    return list(out) if isinstance(out, (list, tuple)) else [out]


# layer presets -----------------------------------------------------------------------------------------------

def authors_names(timm_style_blocks, mlp_linears):
    """What convert_vit_denoise_linear converts, spelled per block in mmpretrain's names."""
    return [f'{block}.{linear}' for block in timm_style_blocks for linear in mlp_linears]


@pytest.mark.parametrize('name, expected', [
    # ViT: fc1/fc2 of every block (timm blocks.i.mlp.fc1/fc2 = mmpretrain layers.i.ffn.layers.0.0 / .1)
    ('mmpretrain.VisionTransformer', authors_names(['layers.0', 'layers.1'], ['ffn.layers.0.0', 'ffn.layers.1'])),
    # SwinV2: per block the two cpb_mlp Linears (called first, for the attention bias) and fc1/fc2
    ('mmpretrain.SwinTransformerV2', authors_names(
        [f'stages.{s}.blocks.{b}' for s, n in enumerate([1, 1, 2, 1]) for b in range(n)],
        ['attn.w_msa.cpb_mlp.0', 'attn.w_msa.cpb_mlp.2', 'ffn.layers.0.0', 'ffn.layers.1'])),
])
def test_authors_preset_converts_the_mlp_linears_in_execution_order(name, expected):
    scope, inner, size, _ = BACKBONES[name]
    model = build(scope, dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=inner, preset='authors',
                              example_input_shape=(1, 3, size, size)))
    layers = denoising_layers(model)
    assert [n for n, _ in layers] == expected
    assert [layer.step for _, layer in layers] == list(range(len(expected), 0, -1))  # global numbering


@pytest.mark.parametrize('name, count', [('mmdet.ResNet-50', 53), ('mmdet.DarkNet-53', 52),
                                         ('mmseg.ResNetV1c-18', 22)])
def test_authors_preset_converts_every_odd_kernel_conv_of_a_cnn(name, count):
    scope, inner, size, _ = BACKBONES[name]
    model = build(scope, dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=inner, preset='authors',
                              example_input_shape=(1, 3, size, size)))
    plain = build(scope, inner)
    convs = [n for n, m in plain.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] % 2]
    assert sorted(n for n, _ in denoising_layers(model)) == sorted(convs) and len(convs) == count


def test_presets_are_logged_and_refused_where_the_authors_had_none():
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    records = []
    handler = type('H', (__import__('logging').Handler,), {'emit': lambda self, r: records.append(r.getMessage())})()
    logger.addHandler(handler)
    try:
        scope, inner, size, _ = BACKBONES['mmpretrain.VisionTransformer']
        build(scope, dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=inner, preset='authors',
                          example_input_shape=(1, 3, size, size)))
        build(scope, dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=inner, example_input_shape=(1, 3, size, size)))
    finally:
        logger.removeHandler(handler)
    summaries = [r.split('\n')[0] for r in records if r.startswith('DenoiseRepBackbone')]
    assert summaries == [
        "DenoiseRepBackbone: VisionTransformer: preset 'authors' (mlp_linears, the authors' selection for "
        'VisionTransformer): 4 of 4 selected Linear/Conv2d layers converted (5 of 9 not selected)',
        "DenoiseRepBackbone: VisionTransformer: preset 'all' (every embedding layer except *cpb_mlp*): 9 of 9 "
        'selected Linear/Conv2d layers converted (0 of 9 not selected)']
    scope, inner, size, _ = BACKBONES['mmseg.MiT-b0']
    with pytest.raises(ValueError, match="no preset='authors' for MixVisionTransformer"):
        build(scope, dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=inner, preset='authors'))
    with pytest.raises(ValueError, match="no preset='authors' for MixVisionTransformer"):  # even with a selection
        build(scope, dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=inner, preset='authors', exclude='x'))
    with pytest.raises(ValueError, match="preset must be one of \\('all', 'authors'\\), got 'paper'"):
        build(scope, dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=inner, preset='paper'))


def test_exclude_refines_the_preset_and_include_replaces_it():
    scope, inner, size, _ = BACKBONES['mmdet.ResNet-50']
    model = build(scope, dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=inner, preset='authors',
                              exclude=('conv1',), example_input_shape=(1, 3, size, size)))
    names = [n for n, _ in denoising_layers(model)]
    assert len(names) == 52 and 'conv1' not in names and 'layer1.0.conv1' in names
    scope, inner, size, _ = BACKBONES['mmpretrain.VisionTransformer']
    model = build(scope, dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=inner, preset='authors',
                              include='layers.1.*', example_input_shape=(1, 3, size, size)))
    assert [n for n, _ in denoising_layers(model)] == ['layers.1.attn.qkv', 'layers.1.attn.proj',
                                                      'layers.1.ffn.layers.0.0', 'layers.1.ffn.layers.1']
