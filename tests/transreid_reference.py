"""A reference of TransReID's ViT written from the official definitions (damo-cv/TransReID and RG12138/DenoiseRep
Person-ReID/TransReID-SSL: model/backbones/vit_pytorch.py PatchEmbed, IBN, Block, TransReID.forward_features,
resize_pos_embed; model/make_model.py shuffle_unit, build_transformer_local.forward) on a state_dict in the
official names, and the map of `mmdenoiserep.TransReIDViT`'s keys to those names, spelled out key by key.
Used by tests/models/test_transreid.py and the converter tests."""
import math

import torch
import torch.nn.functional as F

__all__ = ['BLOCK_NAMES', 'STEM_NAMES', 'official_state_dict', 'official_resize_pos_embed', 'randomised',
           'ref_transreid', 'ref_shuffle_unit']

BLOCK_NAMES = (('ln1', 'norm1'), ('attn.qkv', 'attn.qkv'), ('attn.proj', 'attn.proj'), ('ln2', 'norm2'),
               ('ffn.layers.0.0', 'mlp.fc1'), ('ffn.layers.1', 'mlp.fc2'))
#: TransReIDViT stem key -> vit_pytorch.py PatchEmbed key (nn.Sequential conv: 0 conv, 1 IBN, 3 conv, 4 IBN,
#: 6 conv, 7 BatchNorm2d)
STEM_NAMES = {'stem.0.weight': 'conv.0.weight', 'stem.3.weight': 'conv.3.weight', 'stem.6.weight': 'conv.6.weight'}
for _i in (1, 4):
    STEM_NAMES.update({f'stem.{_i}.instance_norm.{k}': f'conv.{_i}.IN.{k}' for k in ('weight', 'bias')})
    STEM_NAMES.update({f'stem.{_i}.batch_norm.{k}': f'conv.{_i}.BN.{k}' for k in (
        'weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')})
STEM_NAMES.update({f'stem.7.{k}': f'conv.7.{k}' for k in (
    'weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')})


def official_state_dict(model) -> dict:
    """A TransReIDViT's tensors under TransReID's names (``base.*`` of build_transformer(_local), ``b1``, ``b2``),
    spelled out key by key. With JPM, b1 is the last block and the final norm (see transreid.py), b2 the copy."""
    ours = model.state_dict()
    names = {'cls_token': 'base.cls_token', 'pos_embed': 'base.pos_embed', 'ln1.weight': 'base.norm.weight',
             'ln1.bias': 'base.norm.bias', 'patch_embed.projection.weight': 'base.patch_embed.proj.weight',
             'patch_embed.projection.bias': 'base.patch_embed.proj.bias', 'sie_embed': 'base.sie_embed'}
    names.update({f'patch_embed.{k}': f'base.patch_embed.{v}' for k, v in STEM_NAMES.items()})
    for i in range(model.num_layers):
        for mine, theirs in BLOCK_NAMES:
            for kind in ('weight', 'bias'):
                names[f'layers.{i}.{mine}.{kind}'] = f'base.blocks.{i}.{theirs}.{kind}'
                if i == model.num_layers - 1:
                    names[f'jpm_layer.{mine}.{kind}'] = f'b2.0.{theirs}.{kind}'
    names.update({'jpm_norm.weight': 'b2.1.weight', 'jpm_norm.bias': 'b2.1.bias'})
    official = {names[key]: value for key, value in ours.items()}  # KeyError: a key of ours not spelled out
    last = f'base.blocks.{model.num_layers - 1}.'
    official.update({f'b1.0.{k[len(last):]}': v for k, v in official.items() if k.startswith(last)})
    official.update({'b1.1.weight': official['base.norm.weight'], 'b1.1.bias': official['base.norm.bias']})
    return official


def ref_ibn(sd, prefix, x):
    """vit_pytorch.py IBN (eval): InstanceNorm2d(affine) on int(planes / 2) channels, BatchNorm2d on the rest."""
    half = int(x.shape[1] / 2)
    first, rest = torch.split(x, half, 1)
    first = F.instance_norm(first, weight=sd[prefix + 'IN.weight'], bias=sd[prefix + 'IN.bias'], eps=1e-5)
    rest = F.batch_norm(rest, sd[prefix + 'BN.running_mean'], sd[prefix + 'BN.running_var'],
                        sd[prefix + 'BN.weight'], sd[prefix + 'BN.bias'], training=False, eps=1e-5)
    return torch.cat((first, rest), 1)


def ref_patch_embed(sd, x, stem_conv, patch_size, stride_size):
    """vit_pytorch.py PatchEmbed.forward: the stem (hidden_dim 64, stem_stride 2), then proj, flatten."""
    p = 'base.patch_embed.'
    if stem_conv:
        x = F.relu(ref_ibn(sd, p + 'conv.1.', F.conv2d(x, sd[p + 'conv.0.weight'], stride=2, padding=3)))
        x = F.relu(ref_ibn(sd, p + 'conv.4.', F.conv2d(x, sd[p + 'conv.3.weight'], stride=1, padding=1)))
        x = F.conv2d(x, sd[p + 'conv.6.weight'], stride=1, padding=1)
        x = F.relu(F.batch_norm(x, sd[p + 'conv.7.running_mean'], sd[p + 'conv.7.running_var'],
                                sd[p + 'conv.7.weight'], sd[p + 'conv.7.bias'], training=False, eps=1e-5))
        stride_size = patch_size = patch_size // 2
    x = F.conv2d(x, sd[p + 'proj.weight'], sd[p + 'proj.bias'], stride=stride_size)
    assert sd[p + 'proj.weight'].shape[-1] == patch_size
    return x.flatten(2).transpose(1, 2)


def ref_block(sd, prefix, x, heads):
    """timm's Block (vit_pytorch.py): x + attn(norm1(x)), x + mlp(norm2(x)), LayerNorm eps 1e-6."""
    batch, tokens, channels = x.shape
    h = F.layer_norm(x, (channels,), sd[prefix + 'norm1.weight'], sd[prefix + 'norm1.bias'], eps=1e-6)
    qkv = F.linear(h, sd[prefix + 'attn.qkv.weight'], sd[prefix + 'attn.qkv.bias'])
    q, k, v = qkv.reshape(batch, tokens, 3, heads, channels // heads).permute(2, 0, 3, 1, 4)
    attn = ((q @ k.transpose(-2, -1)) * (channels // heads) ** -0.5).softmax(dim=-1)
    out = (attn @ v).transpose(1, 2).reshape(batch, tokens, channels)
    x = x + F.linear(out, sd[prefix + 'attn.proj.weight'], sd[prefix + 'attn.proj.bias'])
    h = F.layer_norm(x, (channels,), sd[prefix + 'norm2.weight'], sd[prefix + 'norm2.bias'], eps=1e-6)
    h = F.linear(F.gelu(F.linear(h, sd[prefix + 'mlp.fc1.weight'], sd[prefix + 'mlp.fc1.bias'])),
                 sd[prefix + 'mlp.fc2.weight'], sd[prefix + 'mlp.fc2.bias'])
    return x + h


def ref_norm(sd, prefix, x):
    return F.layer_norm(x, (x.shape[-1],), sd[prefix + 'weight'], sd[prefix + 'bias'], eps=1e-6)


def ref_shuffle_unit(features, shift, group, begin=1):
    """make_model.py shuffle_unit, as written there."""
    batchsize = features.size(0)
    dim = features.size(-1)
    feature_random = torch.cat([features[:, begin - 1 + shift:], features[:, begin:begin - 1 + shift]], dim=1)
    x = feature_random
    try:
        x = x.view(batchsize, group, -1, dim)
    except RuntimeError:
        x = torch.cat([x, x[:, -2:-1, :]], dim=1)
        x = x.view(batchsize, group, -1, dim)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batchsize, -1, dim)


def ref_transreid(sd, x, cfg, cam_label=None, view_label=None):
    """TransReID.forward_features (+ build_transformer_local.forward's branches with JPM): (B, C) without
    JPM, else (global_feat, [local_feat_1 .. local_feat_4])."""
    heads, depth = cfg['heads'], cfg['depth']
    cam_num, view_num, sie_xishu = cfg.get('camera', 0), cfg.get('view', 0), cfg.get('sie_xishu', 3.0)
    x = ref_patch_embed(sd, x, cfg.get('stem_conv', False), 16, cfg.get('stride_size', 16))
    x = torch.cat((sd['base.cls_token'].expand(x.shape[0], -1, -1), x), dim=1)
    if cam_num > 0 and view_num > 0:
        x = x + sd['base.pos_embed'] + sie_xishu * sd['base.sie_embed'][cam_label * view_num + view_label]
    elif cam_num > 0:
        x = x + sd['base.pos_embed'] + sie_xishu * sd['base.sie_embed'][cam_label]
    elif view_num > 0:
        x = x + sd['base.pos_embed'] + sie_xishu * sd['base.sie_embed'][view_label]
    else:
        x = x + sd['base.pos_embed']
    if not cfg.get('jpm'):
        for i in range(depth):
            x = ref_block(sd, f'base.blocks.{i}.', x, heads)
        return ref_norm(sd, 'base.norm.', x)[:, 0]
    for i in range(depth - 1):
        x = ref_block(sd, f'base.blocks.{i}.', x, heads)
    features = x
    global_feat = ref_norm(sd, 'b1.1.', ref_block(sd, 'b1.0.', features, heads))[:, 0]
    feature_length = features.size(1) - 1
    patch_length = feature_length // cfg['divide_length']
    token = features[:, 0:1]
    if cfg['rearrange']:
        x = ref_shuffle_unit(features, cfg['shift_num'], cfg['shuffle_groups'])
    else:
        x = features[:, 1:]
    local_feats = []
    for k in range(4):
        local = x[:, patch_length * k:patch_length * (k + 1)]
        local_feats.append(ref_norm(sd, 'b2.1.', ref_block(sd, 'b2.0.', torch.cat((token, local), dim=1), heads))[:, 0])
    return global_feat, local_feats


def official_resize_pos_embed(posemb, hight, width, hw_ratio):
    """TransReID-SSL vit_pytorch.py resize_pos_embed (hw_ratio 1: TransReID's square grid)."""
    posemb_token, posemb_grid = posemb[:, :1], posemb[0, 1:]
    gs_old_h = int(math.sqrt(len(posemb_grid) * hw_ratio))
    gs_old_w = gs_old_h // hw_ratio
    posemb_grid = posemb_grid.reshape(1, gs_old_h, gs_old_w, -1).permute(0, 3, 1, 2)
    posemb_grid = F.interpolate(posemb_grid, size=(hight, width), mode='bilinear')
    posemb_grid = posemb_grid.permute(0, 2, 3, 1).reshape(1, hight * width, -1)
    return torch.cat([posemb_token, posemb_grid], dim=1)


def randomised(model, seed=0):
    """float64, eval, every parameter and running statistic non-trivial (the JPM copy unlike block L)."""
    torch.manual_seed(seed)
    model.double()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5 if 'running_var' in name else torch.randn_like(tensor) * 0.3)
    model.eval()  # mmpretrain backbones' train() returns None: do not chain
    return model
