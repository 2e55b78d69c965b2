"""A reference CLIP / CLIP-ReID written from openai/CLIP ``clip/model.py`` and Syliz517/CLIP-ReID
``model/clip/model.py``, ``model/make_model_clipreid.py``, ``loss/*.py`` as plain functions on an official-layout
state_dict (float64): attention written out head by head (no nn.MultiheadAttention), QuickGELU, the position
embedding resize of CLIP-ReID's ``resize_pos_embed``, the causal mask over the full 77-token context.

Shared by tests/models/test_clip_reid.py, tests/tools/test_clip_converter.py and the stage tests.
"""
import math

import torch
import torch.nn.functional as F

#: CLIP-ReID's person template through openai/CLIP's own tokenizer (model/clip/simple_tokenizer.py with its
#: bpe_simple_vocab_16e6.txt.gz): <start_of_text> a photo of a x x x x person . <end_of_text>
PERSON_TEMPLATE_IDS = [49406, 320, 1125, 539, 320, 343, 343, 343, 343, 2533, 269, 49407]
VOCAB, CONTEXT = 49408, 77


def official_state_dict(width=32, layers=3, patch=8, side=4, output_dim=16, text_width=32, text_layers=2,
                        seed=0, jit_ints=True):
    """A CLIP ViT state_dict in the official key layout (clip/model.py ``CLIP``), random float64 values;
    ``side``: the pre-training patch grid (side x side), as CLIP's 224 px / 16 = 14."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, std=0.2):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * std

    def blocks(prefix, w, n):
        state = {}
        for i in range(n):
            b = f'{prefix}transformer.resblocks.{i}.'
            state.update({b + 'attn.in_proj_weight': rand(3 * w, w), b + 'attn.in_proj_bias': rand(3 * w),
                          b + 'attn.out_proj.weight': rand(w, w), b + 'attn.out_proj.bias': rand(w),
                          b + 'ln_1.weight': 1 + rand(w), b + 'ln_1.bias': rand(w),
                          b + 'mlp.c_fc.weight': rand(4 * w, w), b + 'mlp.c_fc.bias': rand(4 * w),
                          b + 'mlp.c_proj.weight': rand(w, 4 * w), b + 'mlp.c_proj.bias': rand(w),
                          b + 'ln_2.weight': 1 + rand(w), b + 'ln_2.bias': rand(w)})
        return state

    state = {'visual.class_embedding': rand(width), 'visual.positional_embedding': rand(1 + side * side, width),
             'visual.proj': rand(width, output_dim), 'visual.conv1.weight': rand(width, 3, patch, patch),
             'visual.ln_pre.weight': 1 + rand(width), 'visual.ln_pre.bias': rand(width),
             'visual.ln_post.weight': 1 + rand(width), 'visual.ln_post.bias': rand(width),
             **blocks('visual.', width, layers),
             'positional_embedding': rand(CONTEXT, text_width), 'text_projection': rand(text_width, output_dim),
             'logit_scale': torch.tensor(math.log(1 / 0.07), dtype=torch.float64),
             'token_embedding.weight': rand(VOCAB, text_width),
             'ln_final.weight': 1 + rand(text_width), 'ln_final.bias': rand(text_width),
             **blocks('', text_width, text_layers)}
    if jit_ints:  # what torch.jit.load(...).state_dict() holds besides the weights
        state.update(input_resolution=torch.tensor(patch * side), context_length=torch.tensor(CONTEXT),
                     vocab_size=torch.tensor(VOCAB))
    return state


def layer_norm(x, p, name):
    return F.layer_norm(x, x.shape[-1:], p[name + '.weight'], p[name + '.bias'], eps=1e-5)


def attention(x, p, name, heads, mask=None):
    """nn.MultiheadAttention's maths on (L, B, C), written out: packed q/k/v, heads, softmax(q k^T / sqrt(d) +
    mask) v, out_proj."""
    length, batch, width = x.shape
    q, k, v = (x @ p[name + '.in_proj_weight'].T + p[name + '.in_proj_bias']).chunk(3, dim=-1)
    d = width // heads

    def split(t):  # (L, B, C) -> (B, heads, L, d)
        return t.reshape(length, batch, heads, d).permute(1, 2, 0, 3)

    scores = split(q) @ split(k).transpose(-1, -2) / math.sqrt(d)
    if mask is not None:
        scores = scores + mask
    out = (scores.softmax(-1) @ split(v)).permute(2, 0, 1, 3).reshape(length, batch, width)
    return out @ p[name + '.out_proj.weight'].T + p[name + '.out_proj.bias']


def block(x, p, name, heads, mask=None):
    """ResidualAttentionBlock: x + attn(ln_1(x)), then x + c_proj(QuickGELU(c_fc(ln_2(x))))."""
    x = x + attention(layer_norm(x, p, name + '.ln_1'), p, name + '.attn', heads, mask)
    hidden = layer_norm(x, p, name + '.ln_2') @ p[name + '.mlp.c_fc.weight'].T + p[name + '.mlp.c_fc.bias']
    hidden = hidden * torch.sigmoid(1.702 * hidden)
    return x + hidden @ p[name + '.mlp.c_proj.weight'].T + p[name + '.mlp.c_proj.bias']


def resize_pos_embed(posemb, height, width):
    """CLIP-ReID's resize_pos_embed: the square grid of (1 + n, C) to height x width, bilinear."""
    token, grid = posemb[:1], posemb[1:]
    side = int(math.sqrt(len(grid)))
    grid = grid.reshape(1, side, side, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(height, width), mode='bilinear')
    return torch.cat([token, grid.permute(0, 2, 3, 1).reshape(height * width, -1)], dim=0)


def image_encoder(p, images, stride, heads, grid, cv_emb=None):
    """CLIP-ReID's VisionTransformer.forward on ``p`` (official keys, pos embed resized to ``grid``):
    (x11, x12, xproj) as (B, N, C) sequences; ``cv_emb`` (B, C) is added to the class token."""
    pos = resize_pos_embed(p['visual.positional_embedding'], *grid)
    x = F.conv2d(images, p['visual.conv1.weight'], stride=stride)
    x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
    cls = p['visual.class_embedding'] + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
    x = torch.cat([cls, x], dim=1)
    if cv_emb is not None:
        x = torch.cat([x[:, :1] + cv_emb[:, None], x[:, 1:]], dim=1)
    x = layer_norm(x + pos, p, 'visual.ln_pre').permute(1, 0, 2)
    layers = len({k.split('.')[3] for k in p if k.startswith('visual.transformer.resblocks.')})
    for i in range(layers - 1):
        x = block(x, p, f'visual.transformer.resblocks.{i}', heads)
    x11 = x
    x12 = block(x, p, f'visual.transformer.resblocks.{layers - 1}', heads)
    x11, x12 = x11.permute(1, 0, 2), layer_norm(x12.permute(1, 0, 2), p, 'visual.ln_post')
    return x11, x12, x12 @ p['visual.proj']


def encode_text_embeddings(p, embeddings, eot, heads):
    """CLIP's encode_text after the token embedding, over the full context: (B, 77, C) -> (B, D)."""
    length = embeddings.shape[1]
    mask = torch.full((length, length), float('-inf'), dtype=embeddings.dtype).triu(1)
    x = (embeddings + p['positional_embedding']).permute(1, 0, 2)
    layers = len({k.split('.')[2] for k in p if k.startswith('transformer.resblocks.')})
    for i in range(layers):
        x = block(x, p, f'transformer.resblocks.{i}', heads, mask)
    x = layer_norm(x.permute(1, 0, 2), p, 'ln_final')
    return x[torch.arange(x.shape[0]), eot] @ p['text_projection']


def encode_text(p, token_ids, heads):
    """CLIP's encode_text on (B, 77) token ids."""
    return encode_text_embeddings(p, p['token_embedding.weight'][token_ids], token_ids.argmax(-1), heads)


def clip_reid_prompts(p, cls_ctx, labels):
    """CLIP-ReID's PromptLearner on the 77-token template: prefix = 5 tokens, cls_ctx[label], the rest."""
    ids = torch.zeros(CONTEXT, dtype=torch.long)
    ids[:len(PERSON_TEMPLATE_IDS)] = torch.tensor(PERSON_TEMPLATE_IDS)
    embedding = p['token_embedding.weight'][ids][None]
    n_ctx, n_cls_ctx = 4, cls_ctx.shape[1]
    prefix, suffix = embedding[:, :n_ctx + 1], embedding[:, n_ctx + 1 + n_cls_ctx:]
    b = labels.shape[0]
    return torch.cat([prefix.expand(b, -1, -1), cls_ctx[labels], suffix.expand(b, -1, -1)], dim=1), ids
