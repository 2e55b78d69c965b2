"""tools/model_converters/vmamba_to_mmpretrain.py: a checkpoint in the official VMamba key layout (written here
from our own model through an explicit reverse map) becomes an mmpretrain ImageClassifier checkpoint that loads
strictly and computes the same logits; bad input is a one-line error and no file."""
import sys

import pytest
import torch
from mmengine.registry import MODELS, init_default_scope

from tool_helpers import run_tool

TOOL = 'model_converters/vmamba_to_mmpretrain'
DEPTHS = (2, 2, 8, 2)  # VMamba-T
CLASSES = 10


def classifier():
    init_default_scope('mmpretrain')
    return MODELS.build(dict(type='ImageClassifier', backbone=dict(type='mmdenoiserep.VMamba', arch='tiny'),
                             neck=dict(type='GlobalAveragePooling'),
                             head=dict(type='LinearClsHead', num_classes=CLASSES, in_channels=768))).eval()


def official_names():
    """Our key -> the official VSSM key, written out per module (independent of the converter's patterns)."""
    names = {'head.fc.weight': 'classifier.head.weight', 'head.fc.bias': 'classifier.head.bias',
             'backbone.norm3.weight': 'classifier.norm.weight', 'backbone.norm3.bias': 'classifier.norm.bias'}
    for ours, theirs in (('conv1', '0'), ('norm1', '2'), ('conv2', '5'), ('norm2', '7')):
        for kind in ('weight', 'bias'):
            names[f'backbone.patch_embed.{ours}.{kind}'] = f'patch_embed.{theirs}.{kind}'
    for i, depth in enumerate(DEPTHS):
        if i < 3:
            for ours, theirs in (('conv', '1'), ('norm', '3')):
                for kind in ('weight', 'bias'):
                    names[f'backbone.layers.{i}.downsample.{ours}.{kind}'] = f'layers.{i}.downsample.{theirs}.{kind}'
        for j in range(depth):
            block = f'layers.{i}.blocks.{j}'
            same = ['op.A_logs', 'op.Ds', 'op.dt_projs_bias', 'op.in_proj.weight', 'op.conv2d.weight',
                    'op.out_proj.weight'] + [f'{m}.{kind}' for m in ('norm', 'norm2', 'op.out_norm', 'mlp.fc1',
                                                                     'mlp.fc2') for kind in ('weight', 'bias')]
            names.update({f'backbone.{block}.{key}': f'{block}.{key}' for key in same})
            names[f'backbone.{block}.op.x_proj.linear.weight'] = f'{block}.op.x_proj_weight'
            names[f'backbone.{block}.op.dt_projs.linear.weight'] = f'{block}.op.dt_projs_weight'
    return names


def official_state_dict(model):
    """The official keys and shapes: Linear2d (O, I), x_proj_weight (K, R + 2N, D), dt_projs_weight (K, D, R)."""
    names = official_names()
    state = model.state_dict()
    assert set(names) == set(state)
    official = {}
    for key, value in state.items():
        if key.endswith(('in_proj.weight', 'out_proj.weight', 'fc1.weight', 'fc2.weight')):
            value = value[:, :, 0, 0]
        elif key.endswith('x_proj.linear.weight'):
            value = value.view(4, -1, value.shape[1])
        elif key.endswith('dt_projs.linear.weight'):
            value = value.view(4, -1, value.shape[1])
        official[names[key]] = value.clone()
    assert official['layers.0.blocks.0.op.x_proj_weight'].shape == (4, 6 + 2, 96)
    assert official['layers.0.blocks.0.op.dt_projs_weight'].shape == (4, 96, 6)
    return official


@pytest.fixture(scope='module')
def source():
    torch.manual_seed(0)
    model = classifier()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'norm' in name or name.endswith('bias'):
                p.add_(torch.randn_like(p) * 0.2)  # non-trivial norms and biases
    return model, official_state_dict(model)


def shaped_like(state):
    """The same keys and shapes, values as broadcast views of one zero (a small file)."""
    return {key: torch.zeros(()).expand(value.shape) for key, value in state.items()}


def convert(tmp_path, checkpoint, *args):
    src, dst = tmp_path / 'src.pth', tmp_path / 'dst.pth'
    torch.save(checkpoint, src)
    return run_tool(TOOL, src, dst, *args), dst


def test_official_checkpoint_converts_to_the_same_function(tmp_path, source, monkeypatch):
    """The training checkpoint layout: model, model_ema, and the yacs config (read without yacs)."""
    model, official = source
    ema = {key: value + 0.5 for key, value in official.items()}
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / 'yacs').mkdir()
    (tmp_path / 'yacs' / '__init__.py').write_text('')
    (tmp_path / 'yacs' / 'config.py').write_text(
        'class CfgNode(dict):\n    def __init__(self, *args):\n        super().__init__(*args)\n'
        '        self.__dict__["__immutable__"] = True\n')
    from yacs.config import CfgNode
    config = CfgNode({'MODEL': CfgNode({'TYPE': 'vssm'})})
    try:
        result, dst = convert(tmp_path, dict(model=official, model_ema=ema, config=config, epoch=264))
    finally:
        for name in ('yacs', 'yacs.config'):
            sys.modules.pop(name, None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f'{len(official)} tensors ({CLASSES} classes); wrote {dst}')
    checkpoint = torch.load(dst, weights_only=True)
    target = classifier()
    target.load_state_dict(checkpoint['state_dict'], strict=True)
    assert checkpoint['meta']['num_classes'] == CLASSES and not checkpoint['meta']['ema']
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(target(x, mode='tensor'), model(x, mode='tensor'), rtol=0, atol=0)

    result, dst = convert(tmp_path, dict(model=official, model_ema=ema), '--ema', '--arch', 'tiny')
    assert result.returncode == 0, result.stderr
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert converted['backbone.layers.0.blocks.0.op.x_proj.linear.weight'].equal(
        ema['layers.0.blocks.0.op.x_proj_weight'].flatten(0, 1))
    assert converted['head.fc.bias'].equal(ema['classifier.head.bias'])


def test_a_bare_state_dict_with_the_ddp_prefix_converts(tmp_path, source):
    _, official = source
    result, dst = convert(tmp_path, {f'module.{k}': v for k, v in shaped_like(official).items()})
    assert result.returncode == 0, result.stderr
    assert set(torch.load(dst, weights_only=True)['state_dict']) == set(official_names())


def bad_inputs(official):
    shaped = shaped_like(official)
    missing = {k: v for k, v in shaped.items() if k != 'layers.2.blocks.7.op.Ds'}
    nan = dict(shaped, **{'layers.1.blocks.0.op.A_logs': torch.full((768, 1), float('nan'))})
    conv_bias = dict(shaped, **{'layers.0.blocks.0.op.conv2d.bias': torch.zeros(96)})  # another variant
    with_z = dict(shaped, **{'layers.0.blocks.0.op.in_proj.weight': torch.zeros(192, 96)})  # v05 with its z branch
    other = {'conv1.weight': torch.zeros(1)}
    return {
        'another model': (other, (), "no 'patch_embed.5.weight'"),
        'another model, --arch': (other, ('--arch', 'tiny'), "unexpected key 'conv1.weight'"),
        'a key missing': (missing, (), '1 keys missing (backbone.layers.2.blocks.7.op.Ds)'),
        'an unknown key': (conv_bias, (), "unexpected key 'layers.0.blocks.0.op.conv2d.bias'"),
        'another arch': (dict(model=shaped), ('--arch', 'small'),
                         'not a VMamba-small checkpoint: 126 keys missing (backbone.layers.2.blocks.8.'),
        'another shape': (with_z, ('--arch', 'tiny'), 'backbone.layers.0.blocks.0.op.in_proj.weight has shape '
                                                      '(192, 96, 1, 1), VMamba-tiny (96, 96, 1, 1)'),
        'no arch': (with_z, (), 'embed dims 96, depths [2, 2, 8, 2], ssm ratio 2 are none of VMamba tiny, small, base'),
        'no EMA weights': (dict(model=shaped), ('--ema',), "--ema: no 'model_ema' in the checkpoint (keys: model)"),
        'not a state_dict': (dict(model=dict(weights=[1, 2])), (), "no VMamba state_dict (a dict of tensors) under "),
        'NaN': (nan, (), 'layers.1.blocks.0.op.A_logs'),
    }


@pytest.mark.parametrize('case', ['another model', 'another model, --arch', 'a key missing', 'an unknown key',
                                  'another arch', 'another shape', 'no arch', 'no EMA weights', 'not a state_dict',
                                  'NaN'])
def test_bad_input_is_a_one_line_error_and_no_file(tmp_path, source, case):
    checkpoint, args, message = bad_inputs(source[1])[case]
    result, dst = convert(tmp_path, checkpoint, *args)
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith('vmamba_to_mmpretrain.py: error: ') and message in result.stderr, result.stderr
    assert not dst.exists()


def test_unreadable_or_missing_source_is_a_one_line_error(tmp_path):
    (tmp_path / 'src.pth').write_bytes(b'not a checkpoint')
    for src in (tmp_path / 'src.pth', tmp_path / 'absent.pth'):
        result = run_tool(TOOL, src, tmp_path / 'dst.pth')
        assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert not (tmp_path / 'dst.pth').exists()
