"""TransReID's ImageNet start, timm's jx_vit_base_p16_224-80ecf9dd.pth (a timm ViT classifier state_dict), through
tools/model_converters/timm_vit_to_mmpretrain.py into TransReIDViT with overlapping patches (stride 12): the
backbone keys load strictly, the 14 x 14 position grid is resized on load as TransReID's load_param /
resize_pos_embed (bilinear, square source grid), and the backbone computes TransReID's forward
(tests/transreid_reference.py) on the checkpoint's tensors, the head dropped as load_param drops it."""
import torch
from tool_helpers import run_tool
from transreid_reference import official_resize_pos_embed, ref_transreid

from mmdenoiserep.models import TransReIDViT

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
#: timm's vit_base_patch16_224 keys (jx_vit_base_p16_224) at ARCH, 64x64 images (4 x 4 patches), 10 classes
BLOCK_SHAPES = {'norm1.weight': (32,), 'norm1.bias': (32,), 'attn.qkv.weight': (96, 32), 'attn.qkv.bias': (96,),
                'attn.proj.weight': (32, 32), 'attn.proj.bias': (32,), 'norm2.weight': (32,), 'norm2.bias': (32,),
                'mlp.fc1.weight': (64, 32), 'mlp.fc1.bias': (64,), 'mlp.fc2.weight': (32, 64), 'mlp.fc2.bias': (32,)}
JX_SHAPES = {'cls_token': (1, 1, 32), 'pos_embed': (1, 17, 32), 'patch_embed.proj.weight': (32, 3, 16, 16),
             'patch_embed.proj.bias': (32,), **{f'blocks.{i}.{k}': s for i in (0, 1) for k, s in BLOCK_SHAPES.items()},
             'norm.weight': (32,), 'norm.bias': (32,), 'head.weight': (10, 32), 'head.bias': (10,)}


def test_jx_vit_base_loads_into_the_overlapping_patch_vit_as_transreid(tmp_path):
    generator = torch.Generator().manual_seed(0)
    timm_state = {key: torch.randn(shape, generator=generator) * 0.3 for key, shape in JX_SHAPES.items()}
    src, dst = tmp_path / 'jx_vit_base_p16_224-80ecf9dd.pth', tmp_path / 'out' / 'jx_vit_base_mmpretrain.pth'
    torch.save(timm_state, src)
    result = run_tool('model_converters/timm_vit_to_mmpretrain', src, dst)
    assert result.returncode == 0, result.stderr
    checkpoint = torch.load(dst, weights_only=True)['state_dict']
    backbone = {key[len('backbone.'):]: value for key, value in checkpoint.items() if key.startswith('backbone.')}
    assert set(checkpoint) - {f'backbone.{key}' for key in backbone} == {'head.layers.head.weight',
                                                                         'head.layers.head.bias'}

    model = TransReIDViT(arch=ARCH, img_size=(64, 40), patch_size=16, stride_size=12, interpolate_mode='bilinear')
    assert model.patch_resolution == (5, 3)  # (64 - 16) // 12 + 1, (40 - 16) // 12 + 1
    keys = model.load_state_dict(backbone, strict=True)  # the pos_embed resized by the load hook
    assert not keys.missing_keys and not keys.unexpected_keys
    model.double()
    model.eval()

    official = {f'base.{key}': value.double() for key, value in timm_state.items() if 'head' not in key}
    official['base.pos_embed'] = official_resize_pos_embed(timm_state['pos_embed'], 5, 3, 1).double()
    x = torch.randn(2, 3, 64, 40, dtype=torch.float64)
    with torch.no_grad():
        expected = ref_transreid(official, x, dict(heads=2, depth=2, stride_size=12))
        torch.testing.assert_close(model(x)[0], expected, rtol=1e-10, atol=1e-10)
