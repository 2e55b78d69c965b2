"""tools/model_converters/luperson_vit_to_mmpretrain.py: a DINO/timm ViT checkpoint becomes mmpretrain's
VisionTransformer with the same function, and the position embedding is resized as TransReID-SSL does."""
import argparse
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from mmpretrain.models import VisionTransformer

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools' / 'model_converters' / 'luperson_vit_to_mmpretrain.py'
ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def vit(img_size):
    torch.manual_seed(0)
    model = VisionTransformer(arch=ARCH, img_size=img_size, patch_size=8, out_type='cls_token')
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)  # non-trivial values everywhere (LayerNorms included)
    model.eval()  # mmpretrain's VisionTransformer.train() returns None
    return model


def timm_keys(state_dict):
    """mmpretrain -> timm names, spelled out per key (independent of the converter's patterns)."""
    names = {'cls_token': 'cls_token', 'pos_embed': 'pos_embed', 'patch_embed.projection.weight':
             'patch_embed.proj.weight', 'patch_embed.projection.bias': 'patch_embed.proj.bias',
             'ln1.weight': 'norm.weight', 'ln1.bias': 'norm.bias'}
    for i in range(ARCH['num_layers']):
        for ours, theirs in (('ln1', 'norm1'), ('ln2', 'norm2'), ('attn.qkv', 'attn.qkv'),
                             ('attn.proj', 'attn.proj'), ('ffn.layers.0.0', 'mlp.fc1'), ('ffn.layers.1', 'mlp.fc2')):
            for kind in ('weight', 'bias'):
                names[f'layers.{i}.{ours}.{kind}'] = f'blocks.{i}.{theirs}.{kind}'
    assert set(names) == set(state_dict)
    return {names[k]: v for k, v in state_dict.items()}


def convert(tmp_path, checkpoint, *args):
    src, dst = tmp_path / 'src.pth', tmp_path / 'dst.pth'
    torch.save(checkpoint, src)
    result = subprocess.run([sys.executable, str(TOOL), str(src), str(dst), *map(str, args)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    return result, dst


def test_dino_checkpoint_converts_to_the_same_function(tmp_path):
    source = vit((32, 16))
    teacher = {f'backbone.{k}': v for k, v in timm_keys(source.state_dict()).items()}
    teacher['head.mlp.0.weight'] = torch.zeros(4, 32)  # DINO's projection head: dropped
    checkpoint = dict(teacher=teacher, student={}, epoch=100, args=argparse.Namespace(arch='vit_small'))
    result, dst = convert(tmp_path, checkpoint, '--img-size', 32, 16, '--patch-size', 8)
    assert result.returncode == 0, result.stderr
    target = VisionTransformer(arch=ARCH, img_size=(32, 16), patch_size=8, out_type='cls_token')
    target.eval()
    target.load_state_dict(torch.load(dst, weights_only=True)['state_dict'], strict=True)
    x = torch.randn(2, 3, 32, 16)
    torch.testing.assert_close(target(x)[0], source(x)[0], rtol=0, atol=0)


def test_pos_embed_is_resized_from_the_pretraining_grid(tmp_path):
    source = vit((32, 16))  # 4 x 2 patches: the H = 2 W pre-training grid
    result, dst = convert(tmp_path, timm_keys(source.state_dict()), '--img-size', 48, 24, '--patch-size', 8)
    assert result.returncode == 0, result.stderr
    pos_embed = torch.load(dst, weights_only=True)['state_dict']['pos_embed']
    old = source.pos_embed
    grid = old[:, 1:].reshape(1, 4, 2, 32).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, size=(6, 3), mode='bilinear').permute(0, 2, 3, 1).reshape(1, 18, 32)
    assert pos_embed.shape == (1, 19, 32)
    torch.testing.assert_close(pos_embed[:, 0], old[:, 0])
    torch.testing.assert_close(pos_embed[:, 1:], expected)


def test_a_checkpoint_of_another_model_is_a_one_line_error(tmp_path):
    result, dst = convert(tmp_path, {'conv1.weight': torch.zeros(1)})
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
    assert 'conv1.weight' in result.stderr and not dst.exists()
