"""TransReIDViT (ICS stem, overlapping patches, SIE, JPM), JPMHead and ReIDClassifier against references written
from the official definitions (tests/transreid_reference.py: damo-cv/TransReID and RG12138/DenoiseRep
Person-ReID/TransReID-SSL vit_pytorch.py and make_model.py; here make_loss.py), in float64, on weights copied key
by key into the official names; and DenoiseRep's conversion of the backbone (unfused vs fused)."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from mmdenoiserep.core import denoiser_parameters, denoising_layers, fuse_denoisers, set_backbone_only
from mmdenoiserep.models import JPMHead, TransReIDViT
from mmdenoiserep.models.transreid import jpm_shift_shuffle
from mmdenoiserep.utils import InputError, load_state_dict_exact
from transreid_reference import (official_resize_pos_embed, official_state_dict, randomised, ref_shuffle_unit,
                                 ref_transreid)

ARCH = dict(embed_dims=32, num_layers=3, num_heads=2, feedforward_channels=64)


JPM = dict(shift_num=5, shuffle_groups=2, divide_length=4, rearrange=True)
CASES = {  # name: (TransReIDViT kwargs, reference cfg, image size)
    'ics': (dict(stem_conv=True), dict(stem_conv=True), (64, 32)),
    'overlap-12': (dict(stride_size=12), dict(stride_size=12), (64, 40)),
    'ics-sie-camera': (dict(stem_conv=True, num_cameras=3, sie_coefficient=3.0), dict(stem_conv=True, camera=3,
                                                                                       sie_xishu=3.0), (64, 32)),
    'sie-camera-view': (dict(num_cameras=3, num_views=2, sie_coefficient=1.5), dict(camera=3, view=2,
                                                                                    sie_xishu=1.5), (64, 32)),
    'jpm-overlap-sie': (dict(stride_size=12, num_cameras=3, jpm=JPM), dict(stride_size=12, camera=3, jpm=True, **JPM),
                        (64, 40)),  # 5 x 3 = 15 patches: odd, shuffle_unit pads one token
    'jpm-ics-shift-1': (dict(stem_conv=True, jpm=dict(JPM, shift_num=1)), dict(stem_conv=True, jpm=True,
                                                                              **dict(JPM, shift_num=1)), (64, 32)),
    'jpm-no-rearrange': (dict(jpm=dict(rearrange=False)), dict(jpm=True, **dict(JPM, rearrange=False)), (96, 32)),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_forward_matches_the_official_definition(case):
    kwargs, cfg, size = CASES[case]
    model = randomised(TransReIDViT(arch=ARCH, img_size=size, patch_size=16, **kwargs))
    cfg = dict(cfg, heads=ARCH['num_heads'], depth=ARCH['num_layers'])
    x = torch.randn(3, 3, *size, dtype=torch.float64)
    cameras, views = torch.tensor([2, 0, 1]), torch.tensor([1, 0, 1])
    ids = dict(camera_ids=cameras if kwargs.get('num_cameras') else None,
               view_ids=views if kwargs.get('num_views') else None)
    with torch.no_grad():
        out, = model(x, **ids)
        expected = ref_transreid(official_state_dict(model), x, cfg, cameras, views)
    if cfg.get('jpm'):
        assert out.shape == (3, 5, ARCH['embed_dims'])
        expected = torch.stack([expected[0]] + expected[1], dim=1)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    if kwargs.get('num_cameras'):  # the SIE term matters: other cameras give other features
        with torch.no_grad():
            assert not torch.allclose(model(x, **dict(ids, camera_ids=cameras.flip(0)))[0], out)


def test_ics_stem_in_training_mode_uses_batch_statistics():
    model = randomised(TransReIDViT(arch=ARCH, img_size=(64, 32), stem_conv=True))
    model.train()
    stem = model.patch_embed.stem
    x = torch.randn(4, 3, 64, 32, dtype=torch.float64)
    p = {k: v.clone() for k, v in stem.state_dict().items()}
    h = F.conv2d(x, p['0.weight'], stride=2, padding=3)
    for conv, ibn in (('0', '1'), ('3', '4')):
        if conv != '0':
            h = F.conv2d(h, p[f'{conv}.weight'], padding=1)
        first, rest = h[:, :32], h[:, 32:]
        first = F.instance_norm(first, weight=p[f'{ibn}.instance_norm.weight'], bias=p[f'{ibn}.instance_norm.bias'])
        mean, var = rest.mean((0, 2, 3), keepdim=True), rest.var((0, 2, 3), unbiased=False, keepdim=True)
        rest = ((rest - mean) / torch.sqrt(var + 1e-5) * p[f'{ibn}.batch_norm.weight'][:, None, None]
                + p[f'{ibn}.batch_norm.bias'][:, None, None])
        h = F.relu(torch.cat([first, rest], 1))
    h = F.conv2d(h, p['6.weight'], padding=1)
    h = F.relu(F.batch_norm(h, None, None, p['7.weight'], p['7.bias'], training=True))
    torch.testing.assert_close(stem(x), h, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('kwargs, size, grid, kernel, stride', [
    (dict(stride_size=12), (256, 128), (21, 10), 16, 12),  # TransReID's stride 12: (H - 16) // 12 + 1
    (dict(), (256, 128), (16, 8), 16, 16),
    (dict(stem_conv=True), (384, 128), (24, 8), 8, 8),  # TransReID-SSL's ViT-B ICS 384x128
    (dict(stem_conv=True), (256, 128), (16, 8), 8, 8),
])
def test_patch_grid_and_position_embedding_size(kwargs, size, grid, kernel, stride):
    model = TransReIDViT(arch=ARCH, img_size=size, patch_size=16, **kwargs)
    assert model.patch_resolution == grid and model.pos_embed.shape == (1, 1 + grid[0] * grid[1], 32)
    projection = model.patch_embed.projection
    assert projection.kernel_size == (kernel, kernel) and projection.stride == (stride, stride)
    assert projection.padding == (0, 0) and model.patch_embed.adaptive_padding is None
    assert model(torch.zeros(1, 3, *size))[0].shape == (1, 32)
    if kwargs.get('stem_conv'):
        assert projection.in_channels == 64
        convs = [m for m in model.patch_embed.stem if isinstance(m, torch.nn.Conv2d)]
        assert [(c.kernel_size, c.stride, c.padding, c.bias) for c in convs] == [
            ((7, 7), (2, 2), (3, 3), None), ((3, 3), (1, 1), (1, 1), None), ((3, 3), (1, 1), (1, 1), None)]


@pytest.mark.parametrize('patches, shift, groups', [(8, 5, 2), (15, 5, 2), (210, 5, 2), (128, 1, 4), (9, 3, 2)])
def test_jpm_shift_shuffle_is_shuffle_unit(patches, shift, groups):
    tokens = torch.arange(1 + patches, dtype=torch.float64)[None, :, None].expand(2, -1, 3)
    expected = ref_shuffle_unit(tokens, shift, groups)
    torch.testing.assert_close(jpm_shift_shuffle(tokens[:, 1:], shift, groups), expected, rtol=0, atol=0)


def test_shift_is_a_roll_of_shift_minus_one_patches():
    tokens = torch.arange(11.)[None, :, None]  # class token 0, patches 1 .. 10
    assert jpm_shift_shuffle(tokens[:, 1:], 5, 1).flatten().tolist() == [5, 6, 7, 8, 9, 10, 1, 2, 3, 4]
    assert jpm_shift_shuffle(tokens[:, 1:], 1, 2).flatten().tolist() == [1, 6, 2, 7, 3, 8, 4, 9, 5, 10]


@pytest.mark.parametrize('kwargs, size, source_grid, ratio', [
    (dict(stem_conv=True), (384, 128), (16, 8), 2),  # LUPerson 256x128 checkpoint -> 384x128 (PRETRAIN_HW_RATIO 2)
    (dict(stride_size=12), (256, 128), (14, 14), 1),  # ImageNet 224 checkpoint -> stride 12 (TransReID)
])
def test_pretrained_pos_embed_is_resized_as_transreid(kwargs, size, source_grid, ratio):
    model = TransReIDViT(arch=ARCH, img_size=size, interpolate_mode='bilinear', pretrain_hw_ratio=ratio, **kwargs)
    source = torch.randn(1, 1 + source_grid[0] * source_grid[1], 32)
    model.load_state_dict({'pos_embed': source.clone()}, strict=False)
    expected = official_resize_pos_embed(source, *model.patch_resolution, ratio)
    torch.testing.assert_close(model.pos_embed.data, expected, rtol=0, atol=0)


def test_a_pos_embed_of_another_grid_shape_is_refused():
    model = TransReIDViT(arch=ARCH, img_size=(64, 32), pretrain_hw_ratio=2)
    with pytest.raises(InputError, match='196 patches is no h x w grid with h = 2 w'):
        model.load_state_dict({'pos_embed': torch.zeros(1, 197, 32)}, strict=False)


def test_jpm_branch_starts_as_the_last_layer_after_the_pretrained_weights(tmp_path):
    source = randomised(TransReIDViT(arch=ARCH, img_size=(64, 32))).float()
    torch.save({'state_dict': source.state_dict()}, tmp_path / 'pretrained.pth')
    model = TransReIDViT(arch=ARCH, img_size=(64, 32), jpm=JPM,
                         init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'pretrained.pth')))
    model.init_weights()
    for name, value in source.layers[-1].state_dict().items():
        torch.testing.assert_close(model.jpm_layer.state_dict()[name], value, rtol=0, atol=0)
    torch.testing.assert_close(model.jpm_norm.weight, source.ln1.weight, rtol=0, atol=0)


@pytest.mark.parametrize('kwargs, says', [
    (dict(stem_conv=True, stride_size=12), 'stride_size 12 with stem_conv'),
    (dict(jpm=dict(shift=5)), "unknown jpm keys ['shift']"),
    (dict(jpm=JPM, out_type='featmap'), "jpm needs out_type='cls_token'"),
    (dict(jpm=dict(JPM, shuffle_groups=5)), 'patch grid'),  # 4 x 2 = 8 patches: neither 8 nor 9 a multiple of 5
    (dict(num_cameras=-1), 'must be >= 0'),
])
def test_bad_arguments_are_input_errors(kwargs, says):
    with pytest.raises(InputError, match=says.replace('(', r'\(').replace('[', r'\[')):
        TransReIDViT(arch=ARCH, img_size=(64, 32), **kwargs)


def test_sie_with_cameras_and_views_needs_both_ids():
    model = TransReIDViT(arch=ARCH, img_size=(64, 32), num_cameras=3, num_views=2)
    with pytest.raises(InputError, match='needs camera ids'):
        model(torch.zeros(1, 3, 64, 32), camera_ids=torch.tensor([0]))
    model.eval()
    no_ids = model(torch.zeros(1, 3, 64, 32))[0]  # a shape-only call: no SIE term
    model.sie_embed.data.zero_()
    torch.testing.assert_close(model(torch.zeros(1, 3, 64, 32), camera_ids=torch.tensor([1]),
                                     view_ids=torch.tensor([1]))[0], no_ids)


# ---- JPMHead ----

def ref_soft_triplet(features, labels):
    """TransReID's TripletLoss() (no margin): SoftMarginLoss(dist_an - dist_ap, 1) of the hardest pairs."""
    losses = []
    for i in range(len(labels)):
        distances = [math.dist(features[i].tolist(), features[j].tolist()) for j in range(len(labels))]
        positive = max(d for d, label in zip(distances, labels) if label == labels[i])
        negative = min(d for d, label in zip(distances, labels) if label != labels[i])
        losses.append(math.log1p(math.exp(-(negative - positive))))
    return sum(losses) / len(losses)


def ref_bn_train(x, weight, bias):
    return (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5) * weight + bias


def jpm_head(seed=0, **kwargs):
    torch.manual_seed(seed)
    head = JPMHead(in_channels=6, num_classes=4, **kwargs).double()
    with torch.no_grad():
        for name, tensor in head.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5 if 'running_var' in name else torch.randn_like(tensor))
    return head


@pytest.mark.parametrize('label_smooth, weights', [(0.0, (1.0, 1.0)), (0.1, (0.5, 2.0))])
def test_jpm_head_losses_are_transreids(label_smooth, weights):
    head = jpm_head(label_smooth=label_smooth, loss_weights=weights, test_feature='before_bn')
    assert len(head.local_bottlenecks) == 4 and not any(n.bias.requires_grad for n in head.local_bottlenecks)
    features = torch.randn(8, 5, 6, dtype=torch.float64)
    labels = [0, 0, 1, 1, 2, 2, 3, 3]
    losses = head.train().loss((features,), [DataSample().set_gt_label(label) for label in labels])
    target = torch.tensor(labels)
    norms = [head.bottleneck] + list(head.local_bottlenecks)
    classifiers = [head.classifier] + list(head.local_classifiers)
    score = [F.linear(ref_bn_train(features[:, k], norms[k].weight, norms[k].bias), classifiers[k].weight)
             for k in range(5)]
    feat = [features[:, k] for k in range(5)]
    # make_loss.py, IF_LABELSMOOTH 'off' (F.cross_entropy) / 'on' (CrossEntropyLabelSmooth, epsilon 0.1)
    xent = (lambda s, t: F.cross_entropy(s, t, label_smoothing=label_smooth))
    ID_LOSS = [xent(scor, target) for scor in score[1:]]
    ID_LOSS = sum(ID_LOSS) / len(ID_LOSS)
    ID_LOSS = 0.5 * ID_LOSS + 0.5 * xent(score[0], target)
    TRI_LOSS = [ref_soft_triplet(feats, labels) for feats in feat[1:]]
    TRI_LOSS = sum(TRI_LOSS) / len(TRI_LOSS)
    TRI_LOSS = 0.5 * TRI_LOSS + 0.5 * ref_soft_triplet(feat[0], labels)
    assert losses['loss_cls'].item() == pytest.approx(weights[0] * ID_LOSS.item(), rel=1e-9)
    assert losses['loss_triplet'].item() == pytest.approx(weights[1] * TRI_LOSS, rel=1e-9)


@pytest.mark.parametrize('neck_feat', ['before_bn', 'after_bn'])
def test_jpm_head_test_feature_is_the_global_and_quarter_locals(neck_feat):
    head = jpm_head(test_feature=neck_feat).eval()
    features = torch.randn(3, 5, 6, dtype=torch.float64)
    norms = [head.bottleneck] + list(head.local_bottlenecks)
    feats = [features[:, k] for k in range(5)]
    if neck_feat == 'after_bn':
        feats = [F.batch_norm(f, n.running_mean, n.running_var, n.weight, n.bias, training=False, eps=1e-5)
                 for f, n in zip(feats, norms)]
    expected = torch.cat([feats[0], feats[1] / 4, feats[2] / 4, feats[3] / 4, feats[4] / 4], dim=1)
    samples = head.predict((features,))
    torch.testing.assert_close(torch.stack([s.pred_feature for s in samples]), expected, rtol=0, atol=0)
    with pytest.raises(InputError, match=r'expects \(B, 1 \+ 4, C\) features'):
        head(torch.zeros(3, 6, dtype=torch.float64))


# ---- ReIDClassifier and DenoiseRep ----

def classifier_cfg(backbone, **head):
    return dict(type='mmdenoiserep.ReIDClassifier', backbone=backbone, neck=None,
                head=dict(type='mmdenoiserep.JPMHead', in_channels=32, num_classes=4, **head))


def build(cfg):
    init_default_scope('mmpretrain')
    from mmengine.registry import MODELS
    return MODELS.build(cfg)


def samples(cameras):
    return [DataSample(metainfo=dict(camid=c)).set_gt_label(i // 2) for i, c in enumerate(cameras)]


def test_reid_classifier_gives_the_backbone_each_samples_camera():
    backbone = dict(type='mmdenoiserep.TransReIDViT', arch=ARCH, img_size=(64, 32), num_cameras=3, jpm=JPM)
    model = build(classifier_cfg(backbone, test_feature='before_bn'))
    randomised(model)
    x = torch.randn(4, 3, 64, 32, dtype=torch.float64)
    cameras = [2, 0, 1, 1]
    with torch.no_grad():
        expected = model.head(model.backbone(x, camera_ids=torch.tensor(cameras)))
        predicted = model(x, samples(cameras), mode='predict')
        without_sie = model.head(model.backbone(x))
    torch.testing.assert_close(torch.stack([s.pred_feature for s in predicted]), expected, rtol=0, atol=0)
    assert not torch.allclose(without_sie, expected)

    seen = []  # the backbone-only forward of the denoise phase calls model.backbone(inputs) alone
    model.backbone.register_forward_hook(lambda module, args, out: seen.append(out[0]))
    set_backbone_only(model, True)
    with torch.no_grad():
        assert model(x, samples(cameras), mode='loss') == {}
    set_backbone_only(model, False)
    torch.testing.assert_close(model.head(seen), expected, rtol=0, atol=0)

    with pytest.raises(InputError, match="needs each sample's 'camid'"):
        model(x, [DataSample().set_gt_label(0)] * 4, mode='loss')
    with pytest.raises(InputError, match=r'camid 3 outside the SIE range \[0, 3\)'):
        model(x, samples([3, 0, 0, 0]), mode='loss')


def test_denoiserep_conversion_of_ics_sie_jpm_fuses_exactly():
    inner = dict(type='mmdenoiserep.TransReIDViT', arch=ARCH, img_size=(64, 32), stem_conv=True, num_cameras=3,
                 jpm=JPM)
    stock = randomised(build(inner), seed=1)
    model = build(dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=inner, preset='authors',
                       example_input_shape=(1, 3, 64, 32)))
    layers = dict(denoising_layers(model))
    order = [f'layers.{i}.ffn.layers.{j}' for i in range(3) for j in ('0.0', '1')] + [
        'jpm_layer.ffn.layers.0.0', 'jpm_layer.ffn.layers.1']  # execution order: t = 8 .. 1
    assert {name: layer.step for name, layer in layers.items()} == {n: 8 - i for i, n in enumerate(order)}
    model.double()
    load_state_dict_exact(model, {**model.state_dict(), **stock.state_dict()})
    with torch.no_grad():
        for p in denoiser_parameters(model):
            p.normal_(std=0.2)
    model.eval()
    x = torch.randn(3, 3, 64, 32, dtype=torch.float64)
    cameras = torch.tensor([2, 0, 1])
    with torch.no_grad():
        without_denoisers = stock(x, camera_ids=cameras)[0]
        unfused = model(x, camera_ids=cameras)[0]
        fuse_denoisers(model)
        load_state_dict_exact(stock, model.state_dict())
        fused = stock(x, camera_ids=cameras)[0]
    assert unfused.shape == (3, 5, 32) and not torch.allclose(unfused, without_denoisers, atol=1e-3)
    torch.testing.assert_close(fused, unfused, rtol=1e-9, atol=1e-9)
