"""``mmdenoiserep.CLIPReID``: CLIP-ReID (Li, Sun, Li, AAAI 2023), ViT-B/16 with SIE and overlapping patches.

Written from Syliz517/CLIP-ReID ``model/make_model_clipreid.py`` (``build_transformer``, ``PromptLearner``,
``TextEncoder``), ``loss/make_loss.py``, ``loss/supcontrast.py`` and ``loss/softmax_loss.py``:

- ``backbone``: `mmdenoiserep.CLIPImageEncoder` -> (x11, x12, xproj); the class tokens f11 = x11[:, 0] (C),
  f = x12[:, 0] (C) and f_proj = xproj[:, 0] (D). ``text_encoder``: `mmdenoiserep.CLIPTextEncoder`, frozen.
- ``prompt_learner`` (`PromptLearner`): for identity y the prompt "A photo of a X X X X person." with the
  embeddings of the four X tokens replaced by the learnable ``cls_ctx[y]`` (n_cls_ctx x C_text); the text
  feature t_y = text_encoder(prompt_y) (D).
- heads (BNNeck, as CLIP-ReID): ``bottleneck`` = BatchNorm1d(C), ``bottleneck_proj`` = BatchNorm1d(D) (biases
  frozen at 0), ``classifier`` (C -> N) and ``classifier_proj`` (D -> N), bias-free, init N(0, 0.001^2).
- stage 1 (``mode='prompt_loss'``): image features v (B, D) (f_proj of the frozen encoder, extracted once),
  labels y (B,): ``loss_i2t_supcon`` = SupCon(v, T_y), ``loss_t2i_supcon`` = SupCon(T_y, v), T_y = t of the
  labels, SupCon(q, k) = -mean_i mean_{j: y_j = y_i} log softmax_j(q_i . k_j) (temperature 1).
- stage 2 (``mode='loss'``, after `compute_text_features`, which freezes t for every identity):
  ``loss_id`` = w_id [CE_ls(classifier(bn(f))) + CE_ls(classifier_proj(bn_proj(f_proj)))],
  ``loss_triplet`` = w_tri [tri(f11) + tri(f) + tri(f_proj)] (batch-hard, margin 0.3),
  ``loss_i2t`` = w_i2t CE_ls(f_proj T^T) (T: (N, D) text features, no scale), CE_ls: label smoothing 0.1.
- test (``mode='predict'`` sets ``pred_feature``, ``mode='tensor'`` returns it): [f, f_proj] (C + D), NECK_FEAT
  'before'; ``test_feature='after'``: [bn(f), bn_proj(f_proj)].
- SIE: every backbone call of a forward gets the data samples' ``camid`` (`CLIPImageEncoder.cameras`: the
  backbone-only forward of DenoiseRep's denoise phase too); pack it (``PackInputs(meta_keys=(..., 'camid'))``).
  Stage 1's image features have none (CLIP-ReID's ``get_image`` path).

The prompt's token ids come from CLIP's BPE tokenizer, the one mmsegmentation (a dependency) ships with CLIP's
vocabulary (``mmseg.utils.tokenizer``), run once at build time; the text encoder runs the tokens through the
end-of-text token only (the causal mask makes the rest irrelevant). The template's token embeddings are read
from the frozen ``text_encoder.token_embedding`` at every call (CLIP-ReID keeps a copy as buffers).
"""
import contextlib
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor, nn

from ..registry import MODELS
from ..utils import InputError
from .losses import batch_hard_triplet_loss

__all__ = ['PromptLearner', 'CLIPReID', 'supcon_loss', 'template_token_ids']


def template_token_ids(template: str) -> List[int]:
    """CLIP's BPE token ids of ``template``: [start_of_text, ..., end_of_text] (mmseg's copy of CLIP's tokenizer)."""
    from mmseg.utils.tokenizer import _tokenizer
    return [_tokenizer.encoder['<start_of_text>'], *_tokenizer.encode(template),
            _tokenizer.encoder['<end_of_text>']]


def supcon_loss(queries: Tensor, keys: Tensor, query_labels: Tensor, key_labels: Tensor) -> Tensor:
    """CLIP-ReID's SupConLoss (temperature 1): -mean_i [mean_{j: key_labels_j = query_labels_i} log softmax_j
    (queries_i . keys_j)], queries (B, D), keys (M, D)."""
    log_prob = torch.log_softmax(queries @ keys.T, dim=1)
    positive = (query_labels[:, None] == key_labels[None]).to(log_prob.dtype)
    return -((positive * log_prob).sum(1) / positive.sum(1)).mean()


class PromptLearner(nn.Module):
    """Learnable identity words in a fixed template: ``cls_ctx`` (num_classes, n, C), N(0, 0.02^2).

    Args:
        num_classes (int): identities N.
        width (int): C, the text encoder's token width.
        template (str): the prompt; its ``n_cls_ctx`` consecutive 'X' words are the learnable tokens.
        n_cls_ctx (int): learnable tokens per identity. Defaults to 4.
    """

    def __init__(self, num_classes: int, width: int, template: str = 'A photo of a X X X X person.',
                 n_cls_ctx: int = 4):
        super().__init__()
        ids = template_token_ids(template)
        x_id = template_token_ids('X')[1]
        slots = [i for i, token in enumerate(ids) if token == x_id]
        if len(slots) != n_cls_ctx or slots != list(range(slots[0], slots[0] + n_cls_ctx)):
            raise InputError(f'PromptLearner: the template {template!r} needs {n_cls_ctx} consecutive X words')
        self.template, self.start = template, slots[0]
        self.register_buffer('token_ids', torch.tensor(ids), persistent=False)
        self.cls_ctx = nn.Parameter(torch.empty(num_classes, n_cls_ctx, width).normal_(std=0.02))

    @property
    def eot_index(self) -> int:
        """Position of the end-of-text token in every prompt."""
        return len(self.token_ids) - 1

    def forward(self, labels: Tensor, token_embedding: nn.Embedding) -> Tensor:
        """(B,) identities -> (B, L, C) prompt embeddings: template[:start], cls_ctx[label], template[start + n:]."""
        template = token_embedding(self.token_ids).to(self.cls_ctx.dtype).expand(labels.shape[0], -1, -1)
        end = self.start + self.cls_ctx.shape[1]
        return torch.cat([template[:, :self.start], self.cls_ctx[labels], template[:, end:]], dim=1)


@MODELS.register_module()
class CLIPReID(BaseModel):
    """CLIP-ReID (see the module docstring).

    Args:
        backbone (dict): the image encoder (`CLIPImageEncoder`, or DenoiseRepBackbone around it).
        text_encoder (dict): the text encoder (`CLIPTextEncoder`).
        num_classes (int): training identities N.
        template (str): the prompt template. Defaults to CLIP-ReID's person template.
        n_cls_ctx (int): learnable tokens per identity. Defaults to 4.
        label_smooth (float): epsilon of the ID and image-to-text cross-entropies (IF_LABELSMOOTH 'on'). Defaults
            to 0.1.
        triplet_margin (float, optional): margin of the triplet losses; None: soft margin. Defaults to 0.3
            (SOLVER.MARGIN; NO_MARGIN False).
        loss_weights (dict): ``id``, ``triplet`` and ``i2t`` (ID_LOSS_WEIGHT, TRIPLET_LOSS_WEIGHT,
            I2T_LOSS_WEIGHT). Defaults to dict(id=0.25, triplet=1.0, i2t=1.0), vit_clipreid.yml's.
        test_feature (str): 'before' or 'after' the BNNecks (TEST.NECK_FEAT). Defaults to 'before'.
        text_batch_size (int): identities per text-encoder call in `compute_text_features`. Defaults to 64.
        data_preprocessor (dict, optional): defaults to mmpretrain's ClsDataPreprocessor.
        init_cfg (dict, optional): as BaseModel's.
    """

    TEST_FEATURES = ('before', 'after')

    def __init__(self, backbone: dict, text_encoder: dict, num_classes: int,
                 template: str = 'A photo of a X X X X person.', n_cls_ctx: int = 4, label_smooth: float = 0.1,
                 triplet_margin: Optional[float] = 0.3, loss_weights: Optional[Dict[str, float]] = None,
                 test_feature: str = 'before', text_batch_size: int = 64, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if test_feature not in self.TEST_FEATURES:
            raise InputError(f'CLIPReID: test_feature must be one of {self.TEST_FEATURES}, got {test_feature!r}')
        weights = {**dict(id=0.25, triplet=1.0, i2t=1.0), **(loss_weights or {})}
        if set(weights) != {'id', 'triplet', 'i2t'}:
            raise InputError(f'CLIPReID: loss_weights takes id, triplet and i2t, got {sorted(loss_weights)}')
        self.loss_weights, self.label_smooth, self.triplet_margin = weights, label_smooth, triplet_margin
        self.test_feature, self.text_batch_size = test_feature, text_batch_size
        self.backbone = MODELS.build(backbone)
        self.text_encoder = MODELS.build(text_encoder)
        self.text_encoder.requires_grad_(False)  # CLIP-ReID trains no text-encoder weight in either stage
        width = self.text_encoder.token_embedding.embedding_dim
        self.prompt_learner = PromptLearner(num_classes, width, template, n_cls_ctx)
        channels, proj_channels = self.backbone.proj.shape
        self.bottleneck, self.bottleneck_proj = nn.BatchNorm1d(channels), nn.BatchNorm1d(proj_channels)
        for norm in (self.bottleneck, self.bottleneck_proj):
            norm.bias.requires_grad_(False)
        self.classifier = nn.Linear(channels, num_classes, bias=False)
        self.classifier_proj = nn.Linear(proj_channels, num_classes, bias=False)
        for classifier in (self.classifier, self.classifier_proj):
            nn.init.normal_(classifier.weight, std=0.001)
        self.register_buffer('text_features', None, persistent=False)  # (N, D), `compute_text_features`

    @property
    def num_classes(self) -> int:
        return self.prompt_learner.cls_ctx.shape[0]

    # features ------------------------------------------------------------------------------------------------

    def extract_feat(self, inputs: Tensor):
        """The backbone's (x11, x12, xproj) of (B, 3, H, W) images."""
        return self.backbone(inputs)

    def class_tokens(self, inputs: Tensor):
        """(f11, f, f_proj): the class tokens of x11, x12 and xproj."""
        return tuple(x[:, 0] for x in self.extract_feat(inputs))

    def text_features_of(self, labels: Tensor) -> Tensor:
        """(B,) identities -> (B, D) text features of their prompts."""
        prompts = self.prompt_learner(labels, self.text_encoder.token_embedding)
        return self.text_encoder(prompts, self.prompt_learner.eot_index)

    @torch.no_grad()
    def image_features_for_prompts(self, inputs: Tensor) -> Tensor:
        """Stage 1's image features (B, D): f_proj of the images, no SIE (CLIP-ReID ``get_image``)."""
        with self.backbone.cameras(None):
            return self.backbone(inputs)[2][:, 0]

    @torch.no_grad()
    def compute_text_features(self) -> Tensor:
        """Stage 2: the text features of every identity, (N, D), computed once and kept (not trained, not saved)."""
        labels = torch.arange(self.num_classes, device=self.prompt_learner.cls_ctx.device)
        self.text_features = torch.cat([self.text_features_of(chunk)
                                        for chunk in labels.split(self.text_batch_size)]).detach()
        return self.text_features

    # forward -------------------------------------------------------------------------------------------------

    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        """``mode``: 'loss' (stage 2), 'predict', 'tensor' on images (B, 3, H, W) with their data samples, or
        'prompt_loss' (stage 1) on image features (B, D) with their labels (B,) as ``data_samples``."""
        if mode == 'prompt_loss':
            return self.prompt_loss(inputs, data_samples)
        if mode not in ('loss', 'predict', 'tensor'):
            raise InputError(f'CLIPReID: invalid mode {mode!r}')
        with self.sample_cameras(inputs, data_samples):
            if mode == 'loss':
                return self.loss(inputs, data_samples)
            if mode == 'predict':
                return self.predict(inputs, data_samples)
            return self.test_features(*self.class_tokens(inputs))

    @contextlib.contextmanager
    def sample_cameras(self, inputs: Tensor, data_samples):
        """Within the block the backbone uses the samples' ``camid`` (SIE), when it has SIE and samples are given."""
        if not self.backbone.num_cameras or data_samples is None:
            yield
            return
        ids = []
        for sample in data_samples:
            camid = sample.get('camid') if hasattr(sample, 'get') else None
            if camid is None:
                raise InputError("CLIPReID: SIE needs each sample's 'camid': add it to PackInputs' meta_keys")
            if not 0 <= int(camid) < self.backbone.num_cameras:
                raise InputError(f'CLIPReID: camid {int(camid)} outside the SIE range [0, {self.backbone.num_cameras})')
            ids.append(int(camid))
        with self.backbone.cameras(torch.tensor(ids, dtype=torch.long, device=inputs.device)):
            yield

    def test_features(self, f11: Tensor, f: Tensor, f_proj: Tensor) -> Tensor:
        """(B, C + D): [f, f_proj] ('before') or [bn(f), bn_proj(f_proj)] ('after')."""
        if self.test_feature == 'after':
            f, f_proj = self.bottleneck(f), self.bottleneck_proj(f_proj)
        return torch.cat([f, f_proj], dim=1)

    def loss(self, inputs: Tensor, data_samples: Sequence) -> Dict[str, Tensor]:
        """Stage 2's losses (see the module docstring); needs `compute_text_features` first."""
        if self.text_features is None:
            raise InputError('CLIPReID: stage 2 needs the text features of every identity: call '
                             'compute_text_features() first (mmdenoiserep.CLIPReIDTrainLoop does)')
        f11, f, f_proj = self.class_tokens(inputs)
        labels = torch.cat([sample.gt_label for sample in data_samples]).to(f.device)
        eps = self.label_smooth
        scores = (self.classifier(self.bottleneck(f)), self.classifier_proj(self.bottleneck_proj(f_proj)))
        loss_id = sum(F.cross_entropy(score, labels, label_smoothing=eps) for score in scores)
        loss_triplet = sum(batch_hard_triplet_loss(feature, labels, self.triplet_margin)
                           for feature in (f11, f, f_proj))
        logits = f_proj @ self.text_features.to(f_proj.dtype).T
        return dict(loss_id=self.loss_weights['id'] * loss_id,
                    loss_triplet=self.loss_weights['triplet'] * loss_triplet,
                    loss_i2t=self.loss_weights['i2t'] * F.cross_entropy(logits, labels, label_smoothing=eps))

    def prompt_loss(self, image_features: Tensor, labels: Tensor) -> Dict[str, Tensor]:
        """Stage 1's losses on (B, D) image features and (B,) labels: SupCon image-to-text and text-to-image."""
        text = self.text_features_of(labels)
        image_features = image_features.to(text.dtype)
        return dict(loss_i2t_supcon=supcon_loss(image_features, text, labels, labels),
                    loss_t2i_supcon=supcon_loss(text, image_features, labels, labels))

    def predict(self, inputs: Tensor, data_samples: Optional[Sequence] = None) -> List:
        """Data samples with ``pred_feature`` (C + D,) set (new DataSamples when none are given)."""
        features = self.test_features(*self.class_tokens(inputs))
        if data_samples is None:
            from mmpretrain.structures import DataSample
            data_samples = [DataSample() for _ in range(features.shape[0])]
        for sample, feature in zip(data_samples, features):
            sample.set_field(feature, 'pred_feature', field_type='data')
        return data_samples
