"""mmdenoiserep.CLIPReID and its CLIP encoders against a reference written from openai/CLIP's and CLIP-ReID's
definitions (tests/clip_reference.py, float64, attention written out head by head), on a checkpoint built in the
official key layout at random init (small widths); DenoiseRep's preset 'all' on the image encoder fuses exactly."""
import pytest
import torch
import torch.nn.functional as F
from clip_reference import (PERSON_TEMPLATE_IDS, clip_reid_prompts, encode_text, encode_text_embeddings,
                            image_encoder, official_state_dict)
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from mmdenoiserep import denoiser_parameters, denoising_layers, fuse_denoisers
from mmdenoiserep.core.phases import enter_phase
from mmdenoiserep.models import CLIPReID, PromptLearner
from mmdenoiserep.registry import MODELS
from mmdenoiserep.utils import InputError, load_state_dict_exact

IMG, STRIDE, HEADS, GRID = (32, 20), 6, 2, (5, 3)  # patch 8, stride 6: (32 - 8) // 6 + 1 = 5, (20 - 8) // 6 + 1 = 3
CAMERAS, CLASSES = 3, 5
ENCODER = dict(type='mmdenoiserep.CLIPImageEncoder', img_size=IMG, patch_size=8, stride=STRIDE, width=32, layers=3,
               heads=HEADS, output_dim=16, num_cameras=CAMERAS, sie_coe=1.0)
TEXT = dict(type='mmdenoiserep.CLIPTextEncoder', width=32, layers=2, heads=HEADS, output_dim=16)


def official_to_model(state: dict) -> dict:
    """The official keys in CLIPReID's: visual.X -> backbone.X, text keys -> text_encoder.X (written out here)."""
    dropped = ('logit_scale', 'input_resolution', 'context_length', 'vocab_size')
    return {('backbone.' + key[len('visual.'):] if key.startswith('visual.') else 'text_encoder.' + key): value
            for key, value in state.items() if key not in dropped}


def build(backbone=None, **kwargs) -> CLIPReID:
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(dict(type='mmdenoiserep.CLIPReID', num_classes=CLASSES, backbone=backbone or ENCODER,
                              text_encoder=TEXT, **kwargs)).double()
    missing, unexpected = model.load_state_dict(official_to_model(official_state_dict()), strict=False)
    assert not unexpected
    assert {k.split('.')[0] for k in missing} == {'prompt_learner', 'bottleneck', 'bottleneck_proj', 'classifier',
                                                  'classifier_proj', 'backbone'}
    assert [k for k in missing if k.startswith('backbone.') and '.denoiser.' not in k] == ['backbone.cv_embed']
    with torch.no_grad():  # non-trivial values everywhere
        model.prompt_learner.cls_ctx.normal_(std=0.3)
        model.backbone.cv_embed.normal_(std=0.5)
        for norm in (model.bottleneck, model.bottleneck_proj):
            norm.weight.uniform_(0.5, 1.5)
            norm.running_mean.normal_()
            norm.running_var.uniform_(0.5, 2.0)
        model.classifier.weight.normal_(std=0.3)
        model.classifier_proj.weight.normal_(std=0.3)
    return model


def samples(labels, cameras):
    return [DataSample(metainfo=dict(camid=int(c))).set_gt_label(int(y)) for y, c in zip(labels, cameras)]


def images(n=6, size=IMG, seed=1):
    return torch.randn(n, 3, *size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


LABELS, CAMS = torch.tensor([0, 0, 1, 1, 3, 3]), torch.tensor([0, 1, 2, 0, 1, 2])


def reference_tokens(model, x, cams=None):
    p = official_state_dict()
    cv = None if cams is None else model.backbone.sie_coe * model.backbone.cv_embed.detach()[cams]
    return image_encoder(p, x, STRIDE, HEADS, GRID, cv)


# encoders ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('with_cameras', [False, True])
def test_image_encoder_matches_clip_reid(with_cameras):
    model = build().eval()
    x = images()
    cams = CAMS if with_cameras else None
    actual = model.backbone(x, cams)
    expected = reference_tokens(model, x, cams)
    assert [t.shape for t in actual] == [(6, 16, 32), (6, 16, 32), (6, 16, 16)]  # 1 + 5 x 3 tokens
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e, rtol=0, atol=1e-10)
    with model.backbone.cameras(cams):  # the ids of a forward's context
        torch.testing.assert_close(model.backbone(x)[2], expected[2], rtol=0, atol=1e-10)


def test_image_encoder_resizes_its_grid_for_another_input_size():
    model = build().eval()
    x = images(2, size=(44, 26))  # grid 7 x 4
    positions = model.backbone.positional_embedding.detach()
    grid = positions[1:].reshape(1, *GRID, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(7, 4), mode='bilinear').permute(0, 2, 3, 1).reshape(28, -1)
    with torch.no_grad():
        resized = build().eval()
        resized.backbone.img_size, resized.backbone.grid = (44, 26), (7, 4)
        resized.backbone.positional_embedding = torch.nn.Parameter(torch.cat([positions[:1], grid]))
    for a, e in zip(model.backbone(x), resized.backbone(x)):
        torch.testing.assert_close(a, e, rtol=0, atol=1e-10)


def test_text_encoder_on_the_tokens_through_eot_equals_the_full_context():
    model = build()
    ids = torch.randint(1, 40000, (3, 77), generator=torch.Generator().manual_seed(2))  # tokens after EOT too
    ids[:, 0] = 49406
    eot = torch.tensor([5, 11, 30])
    ids[torch.arange(3), eot] = 49407
    expected = encode_text(official_state_dict(), ids, HEADS)
    torch.testing.assert_close(model.text_encoder.encode(ids), expected, rtol=0, atol=1e-10)
    with pytest.raises(InputError, match='more than the context'):
        model.text_encoder(torch.zeros(1, 78, 32, dtype=torch.float64))


def test_prompt_learner_is_clip_reid_s():
    model = build()
    assert model.prompt_learner.token_ids.tolist() == PERSON_TEMPLATE_IDS  # CLIP's own tokenizer's ids
    assert model.prompt_learner.cls_ctx.shape == (CLASSES, 4, 32)
    p = official_state_dict()
    labels = torch.tensor([4, 0, 2])
    expected, ids = clip_reid_prompts(p, model.prompt_learner.cls_ctx.detach(), labels)
    prompts = model.prompt_learner(labels, model.text_encoder.token_embedding)
    torch.testing.assert_close(prompts, expected[:, :12], rtol=0, atol=0)
    text = encode_text_embeddings(p, expected, ids.argmax().expand(3), HEADS)
    torch.testing.assert_close(model.text_features_of(labels), text, rtol=0, atol=1e-10)
    with pytest.raises(InputError, match='4 consecutive X words'):
        PromptLearner(3, 32, template='A photo of a X X person.')


# the model --------------------------------------------------------------------------------------------------

def label_smooth_ce(scores, targets, epsilon=0.1):
    """CLIP-ReID's CrossEntropyLabelSmooth: (-((1 - eps) onehot + eps / K) log_softmax).mean(0).sum()."""
    log_probs = torch.log_softmax(scores, dim=1)
    onehot = torch.zeros_like(log_probs).scatter_(1, targets[:, None], 1)
    return (-((1 - epsilon) * onehot + epsilon / scores.shape[1]) * log_probs).mean(0).sum()


def triplet(features, labels, margin=0.3):
    """CLIP-ReID's TripletLoss: hard example mining on Euclidean distances, MarginRankingLoss(margin)."""
    n = features.shape[0]
    squared = features.pow(2).sum(1, keepdim=True)
    dist = (squared + squared.T - 2 * features @ features.T).clamp(min=1e-12).sqrt()
    same = labels.expand(n, n).eq(labels.expand(n, n).T)
    dist_ap = dist[same].view(n, -1).max(1)[0]
    dist_an = dist[~same].view(n, -1).min(1)[0]
    return torch.clamp(dist_ap - dist_an + margin, min=0).mean()


def batch_norm_train(x, norm):
    return (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + norm.eps) * norm.weight + norm.bias


def supcon(features, others, labels):
    """CLIP-ReID's SupConLoss(text_features=features, image_features=others, t_label=i_targets=labels)."""
    mask = labels[:, None].eq(labels[None]).double()
    logits = features @ others.T
    logits = logits - logits.max(1, keepdim=True)[0].detach()
    log_prob = logits - torch.log(torch.exp(logits).sum(1, keepdim=True))
    return -((mask * log_prob).sum(1) / mask.sum(1)).mean()


def test_stage2_losses_are_clip_reid_s():
    model = build().train()
    model.compute_text_features()
    x = images()
    losses = model(x, samples(LABELS, CAMS), mode='loss')
    x11, x12, xproj = reference_tokens(model, x, CAMS)
    f11, f, f_proj = x11[:, 0], x12[:, 0], xproj[:, 0]
    scores = (model.classifier.weight @ batch_norm_train(f, model.bottleneck).T).T, \
        (model.classifier_proj.weight @ batch_norm_train(f_proj, model.bottleneck_proj).T).T
    p = official_state_dict()
    all_labels = torch.arange(CLASSES)
    prompts, ids = clip_reid_prompts(p, model.prompt_learner.cls_ctx.detach(), all_labels)
    text = encode_text_embeddings(p, prompts, ids.argmax().expand(CLASSES), HEADS)
    expected = dict(loss_id=0.25 * (label_smooth_ce(scores[0], LABELS) + label_smooth_ce(scores[1], LABELS)),
                    loss_triplet=triplet(f11, LABELS) + triplet(f, LABELS) + triplet(f_proj, LABELS),
                    loss_i2t=label_smooth_ce(f_proj @ text.T, LABELS))
    assert losses.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(losses[key], expected[key], rtol=0, atol=1e-10)
    assert 'text_features' not in model.state_dict()


def test_stage1_supcon_losses_train_the_identity_tokens_only():
    model = build().train()
    features = torch.randn(6, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    losses = model(features, LABELS, mode='prompt_loss')
    p = official_state_dict()
    prompts, ids = clip_reid_prompts(p, model.prompt_learner.cls_ctx.detach(), LABELS)
    text = encode_text_embeddings(p, prompts, ids.argmax().expand(6), HEADS)
    torch.testing.assert_close(losses['loss_i2t_supcon'], supcon(features, text, LABELS), rtol=0, atol=1e-10)
    torch.testing.assert_close(losses['loss_t2i_supcon'], supcon(text, features, LABELS), rtol=0, atol=1e-10)
    sum(losses.values()).backward()
    trained = {name for name, param in model.named_parameters() if param.grad is not None}
    assert trained == {'prompt_learner.cls_ctx'}
    assert not any(param.requires_grad for param in model.text_encoder.parameters())


def test_stage1_image_features_are_the_projected_class_token_without_sie():
    model = build()
    x = images()
    with model.backbone.cameras(CAMS):  # ignored: CLIP-ReID's get_image path has no SIE
        features = model.image_features_for_prompts(x)
    torch.testing.assert_close(features, reference_tokens(model, x)[2][:, 0], rtol=0, atol=1e-10)


@pytest.mark.parametrize('test_feature', ['before', 'after'])
def test_test_feature_is_clip_reid_s(test_feature):
    model = build(test_feature=test_feature).eval()
    x = images()
    _, x12, xproj = reference_tokens(model, x, CAMS)
    f, f_proj = x12[:, 0], xproj[:, 0]
    if test_feature == 'after':
        f, f_proj = ((v - n.running_mean) / torch.sqrt(n.running_var + n.eps) * n.weight + n.bias
                     for v, n in ((f, model.bottleneck), (f_proj, model.bottleneck_proj)))
    expected = torch.cat([f, f_proj], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(x, samples(LABELS, CAMS), mode='tensor'), expected, rtol=0, atol=1e-10)
        predicted = model(x, samples(LABELS, CAMS), mode='predict')
    torch.testing.assert_close(torch.stack([s.pred_feature for s in predicted]), expected, rtol=0, atol=1e-10)


def test_bad_input_is_one_line():
    model = build()
    x = images(2)
    with pytest.raises(InputError, match='compute_text_features'):
        model(x, samples([0, 1], [0, 1]), mode='loss')
    with pytest.raises(InputError, match="'camid'"):
        model(x, [DataSample().set_gt_label(0)] * 2, mode='predict')
    with pytest.raises(InputError, match=r'camid 3 outside the SIE range \[0, 3\)'):
        model(x, samples([0, 1], [0, 3]), mode='predict')
    with pytest.raises(InputError, match='invalid mode'):
        model(x, None, mode='features')
    with pytest.raises(InputError, match='test_feature'):
        build(test_feature='neck')


def test_text_features_are_computed_once_for_every_identity():
    model = build()
    features = model.compute_text_features()
    assert features.shape == (CLASSES, 16) and not features.requires_grad
    torch.testing.assert_close(features, model.text_features_of(torch.arange(CLASSES)), rtol=0, atol=1e-12)
    assert 'text_features' not in model.state_dict()


# DenoiseRep -------------------------------------------------------------------------------------------------

def denoiserep_model():
    wrapped = dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=ENCODER, preset='all',
                   example_input_shape=(1, 3, *IMG))
    model = build(backbone=wrapped)
    with torch.no_grad():
        for param in denoiser_parameters(model):
            param.normal_(std=0.05)
    return model


def test_preset_all_converts_every_embedding_layer_of_the_image_encoder():
    names = [name for name, _ in denoising_layers(denoiserep_model())]
    blocks = [f'backbone.transformer.resblocks.{i}.{layer}' for i in range(3)
              for layer in ('attn.in_proj', 'attn.out_proj', 'mlp.c_fc', 'mlp.c_proj')]
    assert sorted(names) == sorted(['backbone.conv1', *blocks])  # 1 + 4 L; proj is a bare Parameter


def test_fused_image_encoder_loads_into_the_baseline_with_equal_features():
    model = denoiserep_model().eval()
    x = images()
    with torch.no_grad():
        unfused = model(x, samples(LABELS, CAMS), mode='tensor')
        unfused_tokens = model.extract_feat(x)
        fuse_denoisers(model)
        baseline = build().eval()
        load_state_dict_exact(baseline, model.state_dict())
        fused = baseline(x, samples(LABELS, CAMS), mode='tensor')
        plain = build().eval()(x, samples(LABELS, CAMS), mode='tensor')
    torch.testing.assert_close(fused, unfused, rtol=0, atol=1e-10)
    for a, e in zip(baseline.extract_feat(x), unfused_tokens):
        torch.testing.assert_close(a, e, rtol=0, atol=1e-10)
    assert (fused - plain).abs().max() > 1e-3  # the denoisers changed the weights


def test_denoise_phase_runs_the_backbone_only_with_the_samples_cameras():
    model = denoiserep_model()
    seen = []
    model.backbone.register_forward_pre_hook(lambda module, args: seen.append(module._camera_ids))
    enter_phase(model, 'denoise', backbone_only=True)
    assert model(images(), samples(LABELS, CAMS), mode='loss') == {}  # no task loss, no text features needed
    assert len(seen) == 1 and torch.equal(seen[0], CAMS)
    assert all(layer.recorded_inputs for _, layer in denoising_layers(model))
