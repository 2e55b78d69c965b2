"""tools/model_converters/luperson_vit_to_mmpretrain.py: a DINO/timm ViT checkpoint becomes mmpretrain's
VisionTransformer with the same function, and the position embedding is resized as TransReID-SSL does; the ViT-B
+ICS checkpoint, built here in the official layout (dino/ours_vit.py key by key), loads strictly into
TransReIDViT(stem_conv=True) and computes the reference of tests/transreid_reference.py."""
import argparse
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from mmpretrain.models import VisionTransformer
from transreid_reference import official_resize_pos_embed, ref_transreid

from mmdenoiserep.models import TransReIDViT
from mmdenoiserep.utils import load_state_dict_exact

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


# ---- ViT-B/16+ICS (vit_base_ics_cfs_lup.pth): TransReID-SSL's DINO checkpoint of dino/ours_vit.py Ours_ViT ----

ICS_ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
BN_KEYS = {'weight': (32,), 'bias': (32,), 'running_mean': (32,), 'running_var': (32,), 'num_batches_tracked': ()}
#: Ours_ViT's backbone keys (PatchEmbed_VOLO stem: conv 0, IBN 1, conv 3, IBN 4, conv 6, BatchNorm2d 7) at ICS_ARCH,
#: 64 stem channels, 64x32 images (a 4 x 2 grid): key -> shape
ICS_SHAPES = {'cls_token': (1, 1, 32), 'pos_embed': (1, 9, 32), 'patch_embed.conv.0.weight': (64, 3, 7, 7),
              'patch_embed.conv.3.weight': (64, 64, 3, 3), 'patch_embed.conv.6.weight': (64, 64, 3, 3),
              **{f'patch_embed.conv.{i}.IN.{k}': (32,) for i in (1, 4) for k in ('weight', 'bias')},
              **{f'patch_embed.conv.{i}.BN.{k}': s for i in (1, 4) for k, s in BN_KEYS.items()},
              **{f'patch_embed.conv.7.{k}': (64,) * len(s) for k, s in BN_KEYS.items()},
              'patch_embed.proj.weight': (32, 64, 8, 8), 'patch_embed.proj.bias': (32,),
              **{f'blocks.{i}.{k}': s for i in (0, 1) for k, s in {
                  'norm1.weight': (32,), 'norm1.bias': (32,), 'attn.qkv.weight': (96, 32), 'attn.qkv.bias': (96,),
                  'attn.proj.weight': (32, 32), 'attn.proj.bias': (32,), 'norm2.weight': (32,), 'norm2.bias': (32,),
                  'mlp.fc1.weight': (64, 32), 'mlp.fc1.bias': (64,), 'mlp.fc2.weight': (32, 64),
                  'mlp.fc2.bias': (32,)}.items()},
              'norm.weight': (32,), 'norm.bias': (32,)}


def ics_backbone_state(seed=0):
    """Random float32 tensors in Ours_ViT's layout (running variances positive, counters integers)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in ICS_SHAPES.items():
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(100)
        elif key.endswith('running_var'):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.3
    return state


def dino_checkpoint(backbone):
    """main_dino.py's save_dict: teacher and student DDP-wrapped (SyncBN), MultiCropWrapper(backbone, DINOHead)."""
    teacher = {f'module.backbone.{k}': v for k, v in backbone.items()}
    teacher.update({'module.head.mlp.0.weight': torch.zeros(8, 32),
                    'module.head.last_layer.weight_g': torch.ones(4, 1)})
    return dict(teacher=teacher, student=dict(teacher), epoch=100, args=argparse.Namespace(arch='ours_vit_base'))


def test_ics_dino_checkpoint_loads_strictly_and_computes_transreid_ssls_vit(tmp_path):
    backbone = ics_backbone_state()
    result, dst = convert(tmp_path, dino_checkpoint(backbone), '--img-size', 64, 32, '--patch-size', 16)
    assert result.returncode == 0, result.stderr
    assert 'ICS stem (TransReIDViT stem_conv=True)' in result.stdout
    checkpoint = torch.load(dst, weights_only=True)
    assert checkpoint['meta']['stem_conv'] is True
    model = TransReIDViT(arch=ICS_ARCH, img_size=(64, 32), patch_size=16, stem_conv=True)
    load_state_dict_exact(model, checkpoint['state_dict'])  # no missing, unexpected or reshaped key
    model.double()
    model.eval()
    x = torch.randn(2, 3, 64, 32, dtype=torch.float64)
    official = {f'base.{k}': v.double() for k, v in backbone.items()}
    with torch.no_grad():
        expected = ref_transreid(official, x, dict(heads=2, depth=2, stem_conv=True))
        torch.testing.assert_close(model(x)[0], expected, rtol=1e-10, atol=1e-10)


def test_ics_pos_embed_of_the_256x128_grid_is_resized_to_384x128_on_load(tmp_path):
    """The configs load the checkpoint at its pre-training grid (H = 2 W); TransReIDViT's pretrain_hw_ratio 2
    resizes it on load as TransReID-SSL's load_param(hw_ratio=PRETRAIN_HW_RATIO) does."""
    backbone = ics_backbone_state()
    result, dst = convert(tmp_path, dino_checkpoint(backbone), '--img-size', 64, 32, '--patch-size', 16)
    assert result.returncode == 0, result.stderr
    model = TransReIDViT(arch=ICS_ARCH, img_size=(96, 32), stem_conv=True, pretrain_hw_ratio=2,
                         interpolate_mode='bilinear', init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    model.init_weights()
    torch.testing.assert_close(model.pos_embed.data, official_resize_pos_embed(backbone['pos_embed'], 6, 2, 2),
                               rtol=0, atol=0)
    torch.testing.assert_close(model.patch_embed.stem[7].running_var, backbone['patch_embed.conv.7.running_var'])


def test_an_incomplete_ics_stem_is_a_one_line_error(tmp_path):
    backbone = ics_backbone_state()
    del backbone['patch_embed.conv.4.BN.running_mean']
    result, dst = convert(tmp_path, dino_checkpoint(backbone), '--img-size', 64, 32, '--patch-size', 16)
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert 'patch_embed.stem.4.batch_norm.running_mean' in result.stderr and not dst.exists()
