"""tools/model_converters/timm_vit_to_mmpretrain.py: a timm ViT classifier state_dict (the layout of the Hugging Face
timm repos' pytorch_model.bin) becomes an mmpretrain ImageClassifier checkpoint that loads strictly into the model of
configs/vit_b_in1k.py and vit_s_in1k.py (at a small arch) and computes the same logits (float64); bad input is one
error line and no file.

The timm state_dict is made from an mmpretrain model through a reverse map spelled out here, key by key, and its
keys and shapes are checked against timm's layout written out below, so a wrong key map in the converter (or in
mmdenoiserep.utils.timm_vit) fails here."""
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from tool_helpers import ROOT, run_tool

from mmdenoiserep.apis import build_model

TOOL = 'model_converters/timm_vit_to_mmpretrain'
ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
IMG_SIZE, PATCH_SIZE, NUM_CLASSES = 32, 8, 10  # 4 x 4 patches

#: timm's ViT classifier state_dict at ARCH, IMG_SIZE, PATCH_SIZE, NUM_CLASSES: key -> shape
BLOCK_SHAPES = {'norm1.weight': (32,), 'norm1.bias': (32,), 'attn.qkv.weight': (96, 32), 'attn.qkv.bias': (96,),
                'attn.proj.weight': (32, 32), 'attn.proj.bias': (32,), 'norm2.weight': (32,), 'norm2.bias': (32,),
                'mlp.fc1.weight': (64, 32), 'mlp.fc1.bias': (64,), 'mlp.fc2.weight': (32, 64), 'mlp.fc2.bias': (32,)}
TIMM_SHAPES = {'cls_token': (1, 1, 32), 'pos_embed': (1, 17, 32), 'patch_embed.proj.weight': (32, 3, 8, 8),
               'patch_embed.proj.bias': (32,),
               **{f'blocks.{i}.{key}': shape for i in (0, 1) for key, shape in BLOCK_SHAPES.items()},
               'norm.weight': (32,), 'norm.bias': (32,), 'head.weight': (10, 32), 'head.bias': (10,)}

#: mmpretrain ImageClassifier key -> timm key, spelled out (independent of the converter's patterns)
TIMM_NAMES = {'backbone.cls_token': 'cls_token', 'backbone.pos_embed': 'pos_embed',
              'backbone.patch_embed.projection.weight': 'patch_embed.proj.weight',
              'backbone.patch_embed.projection.bias': 'patch_embed.proj.bias',
              'backbone.ln1.weight': 'norm.weight', 'backbone.ln1.bias': 'norm.bias',
              'head.layers.head.weight': 'head.weight', 'head.layers.head.bias': 'head.bias'}
for _i in (0, 1):
    for _ours, _theirs in (('ln1', 'norm1'), ('attn.qkv', 'attn.qkv'), ('attn.proj', 'attn.proj'), ('ln2', 'norm2'),
                           ('ffn.layers.0.0', 'mlp.fc1'), ('ffn.layers.1', 'mlp.fc2')):
        for _kind in ('weight', 'bias'):
            TIMM_NAMES[f'backbone.layers.{_i}.{_ours}.{_kind}'] = f'blocks.{_i}.{_theirs}.{_kind}'


def classifier(config: str, seed: int):
    """The ImageClassifier of ``config`` at the small arch, float64, with non-trivial values everywhere."""
    cfg = Config.fromfile(str(ROOT / 'configs' / config))
    cfg.model.backbone.update(arch=ARCH, img_size=IMG_SIZE, patch_size=PATCH_SIZE)
    cfg.model.head.update(in_channels=ARCH['embed_dims'], num_classes=NUM_CLASSES)
    model = build_model(cfg).double()
    torch.manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn_like(param) * 0.2)  # LayerNorms included
    return model


def timm_state_dict(model) -> dict:
    """``model``'s weights in timm's names and layout (float32, as the hub ships them)."""
    state_dict = {TIMM_NAMES[key]: value.float() for key, value in model.state_dict().items()}
    assert {key: tuple(value.shape) for key, value in state_dict.items()} == TIMM_SHAPES
    return state_dict


def convert(tmp_path, checkpoint, name='pytorch_model.bin'):
    src, dst = tmp_path / name, tmp_path / 'out' / 'vit_mmpretrain.pth'
    torch.save(checkpoint, src)
    return run_tool(TOOL, src, dst), dst


@pytest.mark.parametrize('config', ['vit_b_in1k.py', 'vit_s_in1k.py'])
def test_converted_checkpoint_loads_strictly_and_gives_the_same_logits(tmp_path, config):
    source = classifier(config, seed=0)
    result, dst = convert(tmp_path, timm_state_dict(source))
    assert result.returncode == 0, result.stderr
    assert '32 tensors (2 blocks, 32 channels, 16 patches + class token, 10 classes)' in result.stdout
    checkpoint = torch.load(dst, weights_only=True)
    assert set(checkpoint) == {'meta', 'state_dict'} and checkpoint['meta']['num_classes'] == NUM_CLASSES
    target = classifier(config, seed=1)
    assert set(checkpoint['state_dict']) == set(target.state_dict())  # exactly the model's keys
    target.load_state_dict(checkpoint['state_dict'], strict=True)
    x = torch.randn(2, 3, IMG_SIZE, IMG_SIZE, dtype=torch.float64)
    with torch.no_grad():
        expected = source.float().double()(x, mode='tensor')  # the float32 values the file holds
        logits = target(x, mode='tensor')
    assert logits.shape == (2, NUM_CLASSES) and expected.std() > 0.1  # logits that tell weights apart
    torch.testing.assert_close(logits, expected, rtol=0, atol=0)


def test_an_mmengine_wrapper_and_ddp_prefix_are_accepted(tmp_path):
    state_dict = timm_state_dict(classifier('vit_b_in1k.py', seed=0))
    result, dst = convert(tmp_path, dict(meta={}, state_dict={f'module.{k}': v for k, v in state_dict.items()}))
    assert result.returncode == 0, result.stderr
    assert set(torch.load(dst, weights_only=True)['state_dict']) == set(TIMM_NAMES)


def test_a_missing_file_is_a_one_line_error_and_no_output(tmp_path):
    dst = tmp_path / 'out' / 'vit.pth'
    result = subprocess.run([sys.executable, str(ROOT / 'tools' / f'{TOOL}.py'), str(tmp_path / 'missing.bin'),
                             str(dst)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert 'missing.bin' in result.stderr and not dst.exists() and not dst.parent.exists()


def _bad(state_dict, key, value):
    bad = dict(state_dict)
    if value is None:
        del bad[key]
    else:
        bad[key] = value
    return bad


@pytest.mark.parametrize('change, says', [
    (lambda sd: {'conv1.weight': torch.zeros(8, 3, 7, 7), 'fc.weight': torch.zeros(10, 8)}, "'conv1.weight'"),
    (lambda sd: _bad(sd, 'fc_norm.weight', torch.ones(32)), "'fc_norm.weight'"),  # a global-pool ViT
    (lambda sd: _bad(sd, 'head.fc.weight', torch.ones(10, 32)), "'head.fc.weight'"),
    (lambda sd: _bad(sd, 'blocks.1.mlp.fc2.bias', None), 'backbone.layers.1.ffn.layers.1.bias'),
    (lambda sd: _bad(sd, 'head.weight', None), 'head.layers.head.weight'),
    (lambda sd: _bad(sd, 'pos_embed', None), 'no pos_embed'),
    (lambda sd: _bad(sd, 'blocks.0.attn.qkv.weight', torch.full((96, 32), float('nan'))), 'non-finite'),
    (lambda sd: [1, 2, 3], 'no state_dict'),
], ids=['resnet', 'unknown-key', 'other-head', 'missing-key', 'no-head', 'no-pos-embed', 'nan', 'no-state-dict'])
def test_bad_input_is_a_one_line_error_and_no_output(tmp_path, change, says):
    result, dst = convert(tmp_path, change(timm_state_dict(classifier('vit_b_in1k.py', seed=0))))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert says in result.stderr and not dst.exists()


@pytest.mark.parametrize('name, content', [('model.safetensors', b'x'),  # the name
                                           ('weights.bin', (2).to_bytes(8, 'little') + b'{}'),  # the header
                                           ('truncated.bin', b'PK\x03\x04 not a whole zip')])
def test_safetensors_and_unreadable_files_are_one_line_errors(tmp_path, name, content):
    src, dst = tmp_path / name, tmp_path / 'out' / 'vit.pth'
    src.write_bytes(content)
    result = run_tool(TOOL, src, dst)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not dst.exists()
    if name == 'truncated.bin':
        assert 'cannot read' in result.stderr
    else:
        assert 'safetensors' in result.stderr and 'pytorch_model.bin' in result.stderr
