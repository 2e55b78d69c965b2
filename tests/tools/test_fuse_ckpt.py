"""tools/fuse_ckpt.py (run in this process): a trained DenoiseRep checkpoint -> a plain one; bad inputs fail
cleanly."""
import copy
import os
import stat

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.registry import MODELS, init_default_scope

from mmdenoiserep import apis, denoiser_parameters, fuse_denoisers
from mmdenoiserep.models import strip_denoiserep
from mmdenoiserep.utils import InputError
from tool_helpers import ROOT, load_tool, run_tool

CONFIG = 'configs/resnet50_denoiserep_in1k.py'
OPTIONS = ['model.backbone.backbone.depth=18', 'model.head.in_channels=512',
           'model.backbone.example_input_shape=[1,3,32,32]']
SHAPE = ['--shape', '2', '3', '32', '32']


def model_cfg(deploy=False):
    cfg = Config.fromfile(str(ROOT / CONFIG))
    cfg.merge_from_dict({'model.backbone.backbone.depth': 18, 'model.head.in_channels': 512,
                         'model.backbone.example_input_shape': [1, 3, 32, 32]})
    return strip_denoiserep(cfg.model) if deploy else cfg.model


def build(deploy=False):
    init_default_scope('mmpretrain')
    return MODELS.build(model_cfg(deploy))


def fuse(*args):
    return run_tool('fuse_ckpt', *args, '--cfg-options', *OPTIONS)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A DenoiseRep checkpoint as mmengine writes it (message hub, optimizer), with trained denoisers."""
    torch.manual_seed(0)
    model = build()
    with torch.no_grad():
        for p in denoiser_parameters(model):
            p.normal_(std=0.05)
    buffer = HistoryBuffer()
    buffer.update(1.5)
    path = tmp_path_factory.mktemp('ckpt') / 'epoch_2.pth'
    torch.save(dict(meta=dict(epoch=2, dataset_meta=dict(classes=('a', 'b'))), state_dict=model.state_dict(),
                    optimizer=dict(state={}), message_hub=dict(log_scalars={'train/loss': buffer})), path)
    return model, path


def test_fuse_writes_a_plain_checkpoint_that_reproduces_the_model(trained, tmp_path):
    model, path = trained
    out = tmp_path / 'fused.pth'
    result = fuse(CONFIG, path, out, *SHAPE)
    assert result.returncode == 0, result.stderr
    checkpoint = torch.load(out, weights_only=True)  # no allowlist needed: tensors and plain meta only
    assert set(checkpoint) == {'meta', 'state_dict'}
    meta = checkpoint['meta']
    assert meta['epoch'] == 2 and meta['dataset_meta'] == dict(classes=('a', 'b'))
    assert meta['denoiserep_weights'] == "the checkpoint's weights"
    fused_meta = meta['denoiserep_fused']
    assert set(fused_meta) == {'source', 'max_abs_diff', 'layers_fused', 'schedules'}
    assert fused_meta['source'] == os.path.abspath(path) and fused_meta['layers_fused'] == 20
    assert fused_meta['schedules'] == [dict(num_steps=1000, beta_range=[1e-4, 2e-3])]  # the checkpoint's
    assert 0 <= fused_meta['max_abs_diff'] < 1e-5
    stock = build(deploy=True)
    n_unfused, n_fused = (sum(p.numel() for p in m.parameters()) for m in (model, stock))
    lines = result.stdout.splitlines()
    assert lines[0] == f"fusing {path}, taking the checkpoint's weights"
    assert lines[-2].startswith(f"max |fused - unfused| over 1 feature maps: {fused_meta['max_abs_diff']:.3g} "
                                '(max |unfused| ')
    assert lines[-1] == f'parameters: {n_unfused} unfused -> {n_fused} fused; wrote {out}'
    assert n_unfused - n_fused == sum(p.numel() for p in denoiser_parameters(model))
    assert list(checkpoint['state_dict']) == list(stock.state_dict())
    stock.load_state_dict(checkpoint['state_dict'], strict=True)
    x = torch.randn(4, 3, 32, 32)
    model.eval(), stock.eval()
    with torch.no_grad():
        torch.testing.assert_close(stock(x), model(x), rtol=1e-4, atol=1e-5)
    assert not list(tmp_path.glob('.*.tmp'))


@pytest.mark.parametrize('option, expected', [
    ('model.backbone.beta_range=[1e-4,0.02]', 'num_steps=1000, beta_range=(0.0001, 0.02), step=20'),
    ('model.backbone.num_steps=500', 'num_steps=500, beta_range=(0.0001, 0.002), step=20'),
])
def test_a_config_whose_schedule_differs_from_the_checkpoints_is_refused(trained, tmp_path, option, expected):
    """The checkpoint stores each layer's step and schedule: fusing it with another schedule would give other
    weights, so it is refused in one line naming the first layer and both values, and writes nothing."""
    _, path = trained
    out = tmp_path / 'fused.pth'
    result = run_tool('fuse_ckpt', CONFIG, path, out, *SHAPE, '--cfg-options', *OPTIONS, option)
    assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    assert len(result.stderr.splitlines()) == 1, result.stderr[-2000:]
    stored = 'num_steps=1000, beta_range=(0.0001, 0.002), step=20'  # backbone.conv1: the first of 20 layers
    assert result.stderr == (f'fuse_ckpt.py: error: {path} does not match the model of {CONFIG}: backbone.conv1: '
                             f"checkpoint schedule {stored} differs from the model's {expected}\n")
    assert not out.exists() and not list(tmp_path.glob('.*.tmp'))


def test_a_checkpoint_without_stored_schedules_fuses_with_the_configs(trained, tmp_path):
    """A checkpoint written before layers stored their schedule: a note, then the config's schedule."""
    model, _ = trained
    old = tmp_path / 'old.pth'
    torch.save({k: v for k, v in model.state_dict().items() if not k.endswith('._extra_state')}, old)
    out = tmp_path / 'fused.pth'
    result = fuse(CONFIG, old, out, *SHAPE)
    assert result.returncode == 0, result.stderr[-2000:]
    note = f'note: {old} stores no layer schedules (written before checkpoints did): fusing with those of {CONFIG}'
    assert note in result.stdout.splitlines()
    expected = fuse_denoisers(copy.deepcopy(model)).state_dict()
    fused = torch.load(out, weights_only=True)['state_dict']
    assert fused.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(fused[key], value, rtol=1e-6, atol=1e-7)


def corrupt(path, tmp_path):
    bad = tmp_path / 'corrupt.pth'
    bad.write_bytes(path.read_bytes()[:5000])
    return bad


def without_denoisers(path, tmp_path):
    plain = tmp_path / 'plain.pth'
    torch.save({'state_dict': build(deploy=True).state_dict()}, plain)
    return plain


def wrong_shape(path, tmp_path):
    checkpoint = torch.load(path, weights_only=False)
    key = next(k for k in checkpoint['state_dict'] if k.endswith('denoiser.weight'))
    checkpoint['state_dict'][key] = checkpoint['state_dict'][key][:-1]
    bad = tmp_path / 'shape.pth'
    torch.save(checkpoint, bad)
    return bad


class Malicious:
    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def malicious(path, tmp_path):
    bad = tmp_path / 'malicious.pth'
    torch.save({'state_dict': {'x.denoiser.weight': torch.zeros(1)}, 'meta': Malicious()}, bad)
    return bad


@pytest.mark.parametrize('make_bad, message', [
    (lambda path, tmp_path: tmp_path / 'missing.pth', 'checkpoint not found'),
    (corrupt, 'cannot read checkpoint'),
    (without_denoisers, 'has no denoiser parameters'),
    (wrong_shape, 'shape mismatch'),
    (malicious, 'cannot read checkpoint'),
])
def test_bad_checkpoints_fail_in_one_line_without_output(trained, tmp_path, make_bad, message):
    _, path = trained
    out = tmp_path / 'out' / 'fused.pth'
    result = fuse(CONFIG, make_bad(path, tmp_path), out, *SHAPE)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if 'fuse_ckpt.py: error:' in line]
    assert len(errors) == 1 and message in errors[0], result.stderr[-2000:]
    assert 'Traceback' not in result.stderr
    assert not out.exists() and not list(tmp_path.glob('**/.*.tmp'))


def baseline_differs(monkeypatch, **backbone):
    """fuse_ckpt's deploy model (``strip_denoiserep(cfg.model)``) with ``backbone`` changed: a baseline that is
    not the DenoiseRep model's, which the check must catch."""
    def stripped(model_cfg):
        model_cfg = strip_denoiserep(model_cfg)
        model_cfg['backbone'].update(backbone)
        return model_cfg
    monkeypatch.setattr(load_tool('fuse_ckpt'), 'strip_denoiserep', stripped)


def test_baseline_that_does_not_fit_fails_without_output(trained, tmp_path, monkeypatch):
    _, path = trained
    baseline_differs(monkeypatch, depth=34)
    out = tmp_path / 'out.pth'
    result = fuse(CONFIG, path, out, *SHAPE)
    assert result.returncode == 1 and result.stderr.startswith(
        'fuse_ckpt.py: error: the fused weights do not fit the baseline model: '), result.stderr[-2000:]
    assert len(result.stderr.splitlines()) == 1 and not out.exists()


def test_bare_state_dict_is_accepted(trained, tmp_path):
    """A file holding only the state_dict (as mmengine's loader accepts) fuses like the full checkpoint."""
    model, _ = trained
    bare = tmp_path / 'bare.pth'
    torch.save(model.state_dict(), bare)
    out = tmp_path / 'fused.pth'
    result = fuse(CONFIG, bare, out, *SHAPE)
    assert result.returncode == 0, result.stderr[-2000:]
    expected = fuse_denoisers(copy.deepcopy(model)).state_dict()
    fused = torch.load(out, weights_only=True)['state_dict']
    assert fused.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(fused[key], value, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize('shape, message', [
    (['1', '4', '32', '32'], 'fuse_ckpt.py: error: --shape 1 4 32 32 does not fit the model: '),
    (['1', '3', '0', '32'], 'fuse_ckpt.py: error: --shape needs four positive sizes N C H W, got 1 3 0 32'),
    (['-1', '3', '8', '8'], 'fuse_ckpt.py: error: --shape needs four positive sizes N C H W, got -1 3 8 8'),
])
def test_bad_shape_fails_in_one_line(trained, tmp_path, shape, message):
    _, path = trained
    out = tmp_path / 'fused.pth'
    out.write_bytes(b'previous')
    result = fuse(CONFIG, path, out, '--shape', *shape)
    assert result.returncode != 0 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if 'fuse_ckpt.py: error:' in line]
    assert len(errors) == 1 and errors[0].startswith(message), result.stderr[-2000:]
    assert out.read_bytes() == b'previous'  # an existing OUT is left as it was


def test_out_that_is_a_directory_fails_in_one_line(trained, tmp_path):
    _, path = trained
    result = fuse(CONFIG, path, tmp_path, *SHAPE)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    errors = [line for line in result.stderr.splitlines() if 'fuse_ckpt.py: error:' in line]
    assert len(errors) == 1 and 'OUT is a directory' in errors[0], result.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []


def test_fused_file_gets_the_mode_of_a_normal_save(trained, tmp_path):
    _, path = trained
    out = tmp_path / 'fused.pth'
    previous = os.umask(0o027)
    try:
        result = fuse(CONFIG, path, out, *SHAPE)
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr[-2000:]
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640  # 0o666 minus the umask, as open() gives


@pytest.mark.parametrize('backbone, message', [
    (dict(norm_cfg=dict(type='BN', eps=1e-3)), 'fused outputs differ from the unfused model by'),
    (dict(out_indices=(2,)), 'the baseline model gives feature maps of shapes [(2, 256)], the unfused model '
                             '[(2, 512)]'),
])
@pytest.mark.parametrize('existing', [False, True])
def test_baseline_whose_keys_fit_but_outputs_differ_is_refused(trained, tmp_path, monkeypatch, backbone, message,
                                                               existing):
    """Strict loading succeeds (same keys and shapes); the output check is what refuses it."""
    _, path = trained
    baseline_differs(monkeypatch, **backbone)
    out = tmp_path / 'out' / 'fused.pth'
    if existing:
        out.parent.mkdir()
        out.write_bytes(b'previous')
    result = fuse(CONFIG, path, out, *SHAPE)
    errors = [line for line in result.stderr.splitlines() if 'fuse_ckpt.py: error:' in line]
    assert result.returncode == 1 and len(errors) == 1 and message in errors[0], result.stderr[-2000:]
    assert (out.read_bytes() == b'previous') if existing else not out.exists()
    assert not list(tmp_path.glob('**/.*.tmp'))


@pytest.mark.parametrize('existing', [False, True])
def test_write_that_fails_midway_leaves_out_as_it_was(trained, tmp_path, monkeypatch, existing):
    """torch.save writes part of the file, then the disk is full: no OUT, or the previous one unchanged."""
    _, path = trained
    out = tmp_path / 'fused.pth'
    if existing:
        out.write_bytes(b'previous')
    real_save = torch.save

    def save_half_then_fail(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.truncate(f.tell() // 2)
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(torch, 'save', save_half_then_fail)
    result = fuse(CONFIG, path, out, *SHAPE)
    errors = [line for line in result.stderr.splitlines() if 'fuse_ckpt.py: error:' in line]
    assert result.returncode == 1 and errors == [f'fuse_ckpt.py: error: cannot write {out}: No space left on device']
    assert (out.read_bytes() == b'previous') if existing else not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == (['fused.pth'] if existing else [])


def test_example_input_shape_is_found_wherever_the_wrapper_sits():
    example_input_shape = load_tool('fuse_ckpt').example_input_shape
    wrapper = dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=dict(type='ResNet'),
                   example_input_shape=[1, 3, 32, 48])
    assert example_input_shape(dict(type='ImageClassifier', backbone=wrapper)) == (1, 3, 32, 48)
    assert example_input_shape(dict(type='X', stages=[dict(type='Y'), dict(inner=wrapper)])) == (1, 3, 32, 48)
    assert example_input_shape(dict(wrapper, type='DenoiseRepBackbone')) == (1, 3, 32, 48)
    assert example_input_shape(dict(wrapper, example_input_shape=None)) is None
    assert example_input_shape(dict(type='X', backbone=dict(type='ResNet', example_input_shape=[1, 3, 8, 8]))) is None
    assert example_input_shape(dict(type='X', first=dict(wrapper, example_input_shape=None),
                                    second=dict(wrapper, example_input_shape=[2, 3, 16, 16]))) == (2, 3, 16, 16)


@pytest.mark.parametrize('example_shape, shape', [('[1,3,40,24]', (1, 3, 40, 24)), (None, (1, 3, 224, 224))])
def test_without_shape_the_check_uses_the_wrappers_example_input_shape(trained, tmp_path, monkeypatch,
                                                                       example_shape, shape):
    """The check's input: torch.randn seeded with 0 (a rerun checks the same), of the wrapper's
    example_input_shape, else 1 x 3 x 224 x 224; the model is built in the config's default scope."""
    _, path = trained
    tool = load_tool('fuse_ckpt')
    seen, scopes = [], []
    features, init_default_scope = tool.features, apis.init_default_scope
    monkeypatch.setattr(tool, 'features', lambda model, inputs: seen.append(inputs) or features(model, inputs))
    monkeypatch.setattr(apis, 'init_default_scope',  # apis.build_model: every tool builds models with it
                        lambda scope: scopes.append(scope) or init_default_scope(scope))
    if example_shape is None:  # a config whose wrapper does not set it
        monkeypatch.setattr(tool, 'example_input_shape', lambda model_cfg: None)
    result = run_tool('fuse_ckpt', CONFIG, path, tmp_path / 'fused.pth', '--cfg-options', *OPTIONS[:2],
                      f'model.backbone.example_input_shape={example_shape or "[1,3,32,32]"}')
    assert result.returncode == 0, result.stderr[-2000:]
    expected = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    assert len(seen) == 2 and all(torch.equal(inputs, expected) for inputs in seen)  # unfused, then fused model
    assert scopes == ['mmpretrain', 'mmpretrain']  # the DenoiseRep model, then the baseline


def test_help_names_every_argument(monkeypatch):
    monkeypatch.setenv('COLUMNS', '300')  # no wrapping
    result = run_tool('fuse_ckpt', '--help')
    assert result.returncode == 0
    lines = [' '.join(line.split()) for line in result.stdout.splitlines()]
    text = ' '.join(result.stdout.split())
    assert lines[0] == ('usage: fuse_ckpt.py [-h] [--ema] [--shape N C H W] '
                        '[--cfg-options CFG_OPTIONS [CFG_OPTIONS ...]] [--tiny] config checkpoint out')
    assert ('Fuse a trained DenoiseRep checkpoint into a plain one that the baseline model loads with '
            'strict=True.') in lines
    for line in ['config the DenoiseRep config the checkpoint was trained with',
                 'checkpoint the trained DenoiseRep checkpoint', 'out path of the fused checkpoint to write',
                 "--ema fuse the EMA-averaged weights of a checkpoint saved with mmengine's EMAHook (default: its "
                 'raw weights)',
                 "--shape N C H W shape of the random input of the check (default: the DenoiseRepBackbone's "
                 'example_input_shape, else 1 3 224 224)']:
        assert line in text, result.stdout


def test_compare_features_allows_rtol_times_the_feature_scale(capsys):
    """Tolerance 1e-4 x max(max |unfused|, 1): relative for large features, absolute below 1."""
    compare = load_tool('fuse_ckpt').compare_features
    big, small = torch.tensor([[10.0, -2.0]]), torch.tensor([[0.5, 0.25]])
    assert compare([big + torch.tensor([[9.9e-4, 0.0]]), small], [big, small]) == pytest.approx(9.9e-4, rel=1e-3)
    assert capsys.readouterr().out == 'max |fused - unfused| over 2 feature maps: 0.00099 (max |unfused| 10)\n'
    assert compare([small + 9e-5], [small]) == pytest.approx(9e-5, rel=1e-3)
    zero = torch.zeros(1, dtype=torch.float64)
    assert compare([zero + 1e-4], [zero]) == 1e-4  # exactly at the tolerance: accepted
    for actual, expected, message in [
            ([big + 1.1e-3], [big], 'fused outputs differ from the unfused model by 0.0011'),
            ([small + 1.5e-4], [small], 'fused outputs differ from the unfused model by 0.00015'),
            ([big, big], [big, small[:, :1]], 'the baseline model gives feature maps of shapes [(1, 2), (1, 2)], '
                                              'the unfused model [(1, 2), (1, 1)]')]:
        with pytest.raises(InputError) as raised:
            compare(actual, expected)
        assert str(raised.value) == message
