"""tools/model_converters/clip_to_mmdenoiserep.py: a state_dict in OpenAI CLIP's key layout (clip/model.py, random
values, small widths: the map is width-agnostic) becomes a checkpoint whose keys are exactly the CLIPReID encoders'
(no missing, no unexpected key) and that computes what the reference CLIP-ReID computes from the original; bad
input is a one-line error and no file."""
import warnings

import torch
from clip_reference import encode_text, image_encoder, official_state_dict
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import _load_checkpoint_with_prefix

from mmdenoiserep.registry import MODELS
from mmdenoiserep.utils import load_checkpoint_file
from tool_helpers import run_tool

TOOL = 'model_converters/clip_to_mmdenoiserep'


def encoders():
    init_default_scope('mmpretrain')
    image = MODELS.build(dict(type='mmdenoiserep.CLIPImageEncoder', img_size=(32, 20), patch_size=8, stride=6,
                              width=32, layers=3, heads=2, output_dim=16)).double()
    text = MODELS.build(dict(type='mmdenoiserep.CLIPTextEncoder', width=32, layers=2, heads=2,
                             output_dim=16)).double()
    return image.eval(), text.eval()


def test_converted_checkpoint_loads_exactly_into_both_encoders(tmp_path):
    official = official_state_dict()
    src, dst = tmp_path / 'clip.pth', tmp_path / 'out' / 'clip_mmdenoiserep.pth'
    torch.save(official, src)
    result = run_tool(TOOL, src, dst)
    assert result.returncode == 0, result.stderr
    assert 'ViT width 32, 3 layers, patch 8; text width 32, 2 layers' in result.stdout
    checkpoint = load_checkpoint_file(str(dst))
    assert checkpoint['meta']['converter'] == 'clip_to_mmdenoiserep.py'
    assert (checkpoint['meta']['vision_layers'], checkpoint['meta']['embed_dim']) == (3, 16)

    image, text = encoders()
    for module, prefix in ((image, 'backbone.'), (text, 'text_encoder.')):
        state = _load_checkpoint_with_prefix(prefix, str(dst))  # what init_cfg's Pretrained(prefix=...) loads
        missing, unexpected = module.load_state_dict(state, strict=True)  # the 1 + 4 x 4 grid resized on load
        assert not missing and not unexpected
    dropped = {'logit_scale', 'input_resolution', 'context_length', 'vocab_size'}
    assert len(checkpoint['state_dict']) == len(official) - len(dropped)

    x = torch.randn(2, 3, 32, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for actual, expected in zip(image(x), image_encoder(official, x, 6, 2, (5, 3))):
        torch.testing.assert_close(actual, expected, rtol=0, atol=1e-10)
    ids = torch.zeros(2, 77, dtype=torch.long)
    ids[:, :4] = torch.tensor([49406, 320, 1125, 49407])
    torch.testing.assert_close(text.encode(ids), encode_text(official, ids, 2), rtol=0, atol=1e-10)


def bad(tmp_path, state_or_bytes, name='src.pth'):
    src, dst = tmp_path / name, tmp_path / 'dst.pth'
    if isinstance(state_or_bytes, bytes):
        src.write_bytes(state_or_bytes)
    elif state_or_bytes is not None:
        torch.save(state_or_bytes, src)
    result = run_tool(TOOL, src, dst)
    assert result.returncode == 1 and not dst.exists()
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def test_bad_input_is_a_one_line_error_and_no_file(tmp_path):
    assert 'SRC not found' in bad(tmp_path, None)
    assert 'cannot read' in bad(tmp_path, b'not a checkpoint')
    resnet = {k: v for k, v in official_state_dict().items() if not k.startswith('visual.')}
    resnet['visual.layer1.0.conv1.weight'] = torch.zeros(1)
    assert 'not a CLIP ViT state_dict' in bad(tmp_path, resnet)
    assert "unknown key 'head.weight'" in bad(tmp_path, {**official_state_dict(), 'head.weight': torch.zeros(1)})
    nan = official_state_dict()
    nan['visual.proj'][0, 0] = float('nan')
    assert 'non-finite values in backbone.proj' in bad(tmp_path, nan)
    assert 'not a state_dict' in bad(tmp_path, [1, 2])


def test_a_torchscript_archive_is_refused_with_the_way_out(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # torch.jit.script is deprecated in recent torch
        scripted = torch.jit.script(torch.nn.Linear(2, 2))
    scripted.save(str(tmp_path / 'ViT-B-16.pt'))
    message = bad(tmp_path, None, name='ViT-B-16.pt')
    assert 'TorchScript archive' in message and 'torch.jit.load(SRC).state_dict()' in message
