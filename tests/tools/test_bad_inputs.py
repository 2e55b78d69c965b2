"""Bad input, tried systematically: each case gives one error line, a non-zero exit and no output file.

The tools run in this process (``tests/tool_helpers.run_tool``: their ``main`` with ``sys.argv`` set;
``sys.exit('tool: error: ...')`` is what the interpreter prints as the one line and exit status 1).
"""
import os
from pathlib import Path

import pytest
import torch
from tool_helpers import run_tool

from mmdenoiserep.apis import build_model

ROOT = Path(__file__).resolve().parents[2]
CONFIG = 'configs/resnet50_denoiserep_in1k.py'
BASELINE = 'configs/resnet50_in1k.py'
RESNET18 = ['model.backbone.backbone.depth=18', 'model.head.in_channels=512',
            'model.backbone.example_input_shape=[1,3,32,32]']
TRAIN = ['train_dataloader.dataset.indices=2', 'train_cfg.max_epochs=1', 'train_cfg.val_begin=100']
SHAPE = ['--shape', '1', '3', '32', '32']


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """An unfused DenoiseRep ResNet-18 checkpoint, as tools/train.py writes it (zip format)."""
    from config_helpers import load
    model = build_model(load(CONFIG, *RESNET18))
    path = tmp_path_factory.mktemp('ckpt') / 'epoch_1.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), path)
    return path


def truncated(fraction):
    def make(checkpoint, tmp_path):
        data = checkpoint.read_bytes()
        path = tmp_path / f'truncated_{int(fraction * 100)}.pth'
        path.write_bytes(data[:int(len(data) * fraction)])
        return path
    return make


def non_finite(checkpoint, tmp_path):
    state = torch.load(checkpoint, weights_only=True)
    key = next(k for k in state['state_dict'] if k.endswith('.denoiser.weight'))
    state['state_dict'][key][0, 0] = float('nan')
    torch.save(state, tmp_path / 'nan.pth')
    return tmp_path / 'nan.pth'


def other_model(checkpoint, tmp_path):
    from config_helpers import load
    model = build_model(load(CONFIG, 'model.backbone.backbone.depth=34', 'model.head.in_channels=512',
                             'model.backbone.example_input_shape=[1,3,32,32]'))
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'resnet34.pth')
    return tmp_path / 'resnet34.pth'


def fused(checkpoint, tmp_path):
    from config_helpers import load
    model = build_model(load(BASELINE, 'model.backbone.depth=18', 'model.head.in_channels=512'))
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'plain.pth')
    return tmp_path / 'plain.pth'


def corrupt(checkpoint, tmp_path):
    """A complete zip archive (its directory intact) with flipped bytes inside a stored tensor."""
    data = bytearray(checkpoint.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    path = tmp_path / 'corrupt.pth'
    path.write_bytes(bytes(data))
    return path


def latest_is_corrupt(checkpoint, tmp_path):
    """A work dir whose last_checkpoint pointer names a corrupt checkpoint (what ``--resume`` picks up)."""
    path = corrupt(checkpoint, tmp_path)
    (tmp_path / 'work').mkdir()
    (tmp_path / 'work' / 'last_checkpoint').write_text(str(path))
    return path


def directory(checkpoint, tmp_path):
    (tmp_path / 'folder.pth').mkdir()
    return tmp_path / 'folder.pth'


def read_only_folder(tmp_path):
    """A folder nobody may write in: mode 0o555, or /sys (sysfs) when running as root (root ignores modes)."""
    if os.getuid() == 0:
        return '/sys'
    folder = tmp_path / 'read_only'
    folder.mkdir(exist_ok=True)
    folder.chmod(0o555)
    return str(folder)


def hook(option):
    return ['train', [CONFIG, '--tiny', '--cfg-options', *RESNET18, *TRAIN, option]]


# (id, tool, args with {ckpt} (a bad checkpoint made by `make`), {out}, {tmp}), make, expected in the error
CASES = [
    # tools/train.py: configs, the hook's and the wrapper's arguments
    ('train-missing-config', 'train', ['configs/missing.py'], None, 'config file not found'),
    ('train-config-is-a-folder', 'train', ['configs'], None, 'config file not found'),
    ('hook-unknown-phase', *hook("custom_hooks.0.phases=['denoise','bogus']"), None, 'phases must be'),
    ('hook-no-phase', *hook('custom_hooks.0.phases=[]'), None, 'phases must be'),
    ('hook-interval-zero', *hook('custom_hooks.0.interval=0'), None, 'interval must be a positive int'),
    ('hook-interval-float', *hook('custom_hooks.0.interval=1.5'), None, 'interval must be a positive int'),
    ('hook-by-epoch-str', *hook("custom_hooks.0.by_epoch='yes'"), None, 'by_epoch must be'),
    ('hook-positions-zero', *hook('custom_hooks.0.loss_positions=0'), None, 'loss_positions must be in'),
    ('hook-positions-above-one', *hook('custom_hooks.0.loss_positions=1.5'), None, 'loss_positions must be in'),
    ('hook-positions-str', *hook("custom_hooks.0.loss_positions='all'"), None, 'loss_positions must be in'),
    ('hook-unknown-argument', *hook('custom_hooks.0.lambda_=0.1'), None, "unexpected keyword argument 'lambda_'"),
    ('wrapper-unknown-backbone', *hook("model.backbone.backbone.type='NoSuchNet'"), None, 'NoSuchNet'),
    ('wrapper-backbone-not-a-dict', *hook('model.backbone.backbone=18'), None, 'needs backbone=dict(type=...)'),
    ('wrapper-empty-selection', *hook("model.backbone.include=['no_such_layer.*']"), None, 'matches'),
    ('wrapper-include-wrong-type', *hook('model.backbone.include=3'), None, 'must be a glob pattern'),
    ('wrapper-unknown-noise-loss', *hook("model.backbone.noise_loss='l3'"), None, 'noise_loss must be one of'),
    ('wrapper-too-few-steps', *hook('model.backbone.num_steps=3'), None, 'need num_steps >='),
    ('train-resume-missing', 'train', [CONFIG, '--tiny', '--resume', '{tmp}/missing.pth', '--cfg-options', *RESNET18],
     None, 'resume checkpoint not found'),
    ('train-resume-corrupt', 'train', [CONFIG, '--tiny', '--resume', '{ckpt}', '--cfg-options', *RESNET18],
     corrupt, 'is corrupt'),
    ('train-resume-latest-corrupt', 'train', [CONFIG, '--tiny', '--resume', '--cfg-options', *RESNET18],
     latest_is_corrupt, 'corrupt.pth is corrupt'),
    ('train-missing-dataset', 'train', [CONFIG, '--cfg-options', *RESNET18, 'load_from=None'], None,
     'train_dataloader: data/imagenet not found (dataset ImageNet): put the dataset there (README, "Data"), or run '
     'on the tiny datasets with --tiny'),
    *([('train-amp-without-gpu', 'train', [CONFIG, '--tiny', '--amp', '--cfg-options', *RESNET18], None,
        '--amp needs a CUDA GPU')] if not torch.cuda.is_available() else []),
    ('train-resume-folder', 'train', [CONFIG, '--tiny', '--resume', '{ckpt}', '--cfg-options', *RESNET18],
     directory, 'not found'),
    ('train-resume-truncated', 'train', [CONFIG, '--tiny', '--resume', '{ckpt}', '--cfg-options', *RESNET18],
     truncated(0.5), 'is not a complete torch checkpoint'),
    ('train-unfused-into-baseline', 'train', [BASELINE, '--tiny', '--cfg-options', 'model.backbone.depth=18',
                                              'model.head.in_channels=512', *TRAIN, 'load_from={ckpt}'],
     lambda c, t: c, 'unfused DenoiseRep checkpoint'),
    # tools/test.py
    ('test-missing-checkpoint', 'test', [CONFIG, '{tmp}/missing.pth', '--tiny'], None, 'checkpoint not found'),
    ('test-truncated-checkpoint', 'test', [CONFIG, '{ckpt}', '--tiny'], truncated(0.3), 'not a complete torch'),
    ('test-missing-dataset', 'test', [CONFIG, '{ckpt}', '--cfg-options', *RESNET18], lambda c, t: c,
     'test_dataloader: data/imagenet not found'),
    ('test-fused-with-denoiserep-config', 'test', [CONFIG, '{ckpt}', '--tiny', '--cfg-options', *RESNET18], fused,
     'holds no denoiser weights (a fused or baseline checkpoint) and this model has 20 denoising layers'),
    # tools/fuse_ckpt.py: checkpoints
    *[(f'fuse-truncated-{int(f * 100)}', 'fuse_ckpt', [CONFIG, '{ckpt}', '{out}', *SHAPE, '--cfg-options', *RESNET18],
       truncated(f), 'cannot read checkpoint') for f in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)],
    ('fuse-non-finite', 'fuse_ckpt', [CONFIG, '{ckpt}', '{out}', *SHAPE, '--cfg-options', *RESNET18], non_finite,
     'holds non-finite values in'),
    ('fuse-other-model', 'fuse_ckpt', [CONFIG, '{ckpt}', '{out}', *SHAPE, '--cfg-options', *RESNET18], other_model,
     'does not match the model'),
    ('fuse-already-fused', 'fuse_ckpt', [CONFIG, '{ckpt}', '{out}', *SHAPE, '--cfg-options', *RESNET18], fused,
     'has no denoiser parameters'),
    ('fuse-checkpoint-folder', 'fuse_ckpt', [CONFIG, '{ckpt}', '{out}', *SHAPE, '--cfg-options', *RESNET18],
     directory, 'checkpoint not found'),
    ('fuse-ema-without-ema', 'fuse_ckpt', [CONFIG, '{ckpt}', '{out}', '--ema', *SHAPE, '--cfg-options', *RESNET18],
     lambda c, t: c, 'holds no EMA weights'),
    ('fuse-baseline-config', 'fuse_ckpt', [BASELINE, '{ckpt}', '{out}', *SHAPE, '--cfg-options',
                                           'model.backbone.depth=18', 'model.head.in_channels=512'],
     lambda c, t: c, 'builds no denoising layers'),
    ('fuse-out-is-a-folder', 'fuse_ckpt', [CONFIG, '{ckpt}', '{tmp}', *SHAPE, '--cfg-options', *RESNET18],
     lambda c, t: c, 'OUT is a directory'),
    ('fuse-out-under-a-file', 'fuse_ckpt', [CONFIG, '{ckpt}', '{tmp}/file/fused.pth', *SHAPE, '--cfg-options',
                                            *RESNET18], lambda c, t: c, 'cannot write'),
    ('fuse-bad-shape', 'fuse_ckpt', [CONFIG, '{ckpt}', '{out}', '--shape', '1', '5', '32', '32', '--cfg-options',
                                     *RESNET18], lambda c, t: c, 'does not fit the model'),
    # tools/analyze_denoisers.py and tools/benchmark.py
    ('analyze-zero-batches', 'analyze_denoisers', [CONFIG, '{ckpt}', '--batches', '0', '--out-dir', '{tmp}/analysis'],
     lambda c, t: c, '--batches must be a positive number'),
    ('analyze-truncated', 'analyze_denoisers', [CONFIG, '{ckpt}', '--out-dir', '{tmp}/analysis'], truncated(0.7),
     'cannot read checkpoint'),
    ('fuse-read-only-folder', 'fuse_ckpt', [CONFIG, '{ckpt}', '{ro}/fused.pth', *SHAPE, '--cfg-options', *RESNET18],
     lambda c, t: c, 'cannot write'),
    ('analyze-read-only-folder', 'analyze_denoisers', [CONFIG, '{ckpt}', '--tiny', '--out-dir', '{ro}', '--cfg-options',
                                                       *RESNET18], lambda c, t: c, 'cannot write'),
    ('benchmark-read-only-folder', 'benchmark', [CONFIG, '--tiny', '--no-train', '--repeats', '1', '--batch', '1',
                                                 '--shape', '3', '32', '32', '--json', '{ro}/bench.json', '--cfg-options', *RESNET18],
     None, 'cannot write'),
    ('benchmark-baseline-config', 'benchmark', [BASELINE, '--tiny', '--no-train', '--json', '{out}'], None,
     'builds no denoising layers'),
]


@pytest.mark.parametrize('name, args, make, expected', [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_bad_input_fails_in_one_line_without_output(name, args, make, expected, checkpoint, tmp_path):
    (tmp_path / 'file').write_bytes(b'a file')
    bad = make(checkpoint, tmp_path) if make else None
    out = tmp_path / 'out' / 'result.pth'
    args = [str(a).format(ckpt=bad, out=out, tmp=tmp_path, ro=read_only_folder(tmp_path)) for a in args]
    if name in ('train', 'test'):
        args += ['--work-dir', str(tmp_path / 'work')]
    before = {p for p in tmp_path.rglob('*')}
    result = run_tool(name, *args)
    errors = [line for line in result.stderr.splitlines() if ': error:' in line]
    assert result.returncode != 0 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    assert len(errors) == 1 and expected in errors[0], errors
    assert 'error' in errors[0]
    created = {p for p in tmp_path.rglob('*') if p.is_file()} - before
    outputs = [p for p in created if p.suffix in ('.pth', '.json', '.png', '.pkl') or p.name.endswith('.tmp')]
    assert not outputs, outputs  # logs of a started run aside, nothing was written


def unfused_into_baseline(checkpoint, tmp_path):
    return checkpoint


# apis.build_model(cfg, checkpoint): the config (its RESNET18 options), a bad checkpoint, the one error line
BUILD_CASES = [
    ('missing', CONFIG, RESNET18, lambda c, t: t / 'missing.pth', 'checkpoint not found'),
    ('folder', CONFIG, RESNET18, directory, 'not found'),
    ('truncated', CONFIG, RESNET18, truncated(0.5), 'is not a complete torch checkpoint'),
    ('corrupt', CONFIG, RESNET18, corrupt, 'is corrupt'),
    ('other-model', CONFIG, RESNET18, other_model, 'does not match the model: unexpected 128 keys'),
    ('fused-into-denoiserep', CONFIG, RESNET18, fused, 'does not match the model: missing'),
    ('unfused-into-baseline', BASELINE, ['model.backbone.depth=18', 'model.head.in_channels=512'],
     unfused_into_baseline, 'is an unfused DenoiseRep checkpoint'),
]


@pytest.mark.parametrize('config, options, make, expected', [pytest.param(*c[1:], id=c[0]) for c in BUILD_CASES])
def test_build_model_refuses_a_bad_checkpoint_in_one_line(config, options, make, expected, checkpoint, tmp_path):
    from config_helpers import load

    from mmdenoiserep.utils import InputError
    with pytest.raises(InputError) as error:
        build_model(load(config, *options), str(make(checkpoint, tmp_path)))
    assert expected in str(error.value) and '\n' not in str(error.value), str(error.value)


def test_build_model_loads_exactly_in_eval_mode(checkpoint):
    from config_helpers import load
    model = build_model(load(CONFIG, *RESNET18), str(checkpoint), device='cpu')
    saved = torch.load(checkpoint, weights_only=True)['state_dict']
    assert not model.training and all(torch.equal(value, saved[key]) for key, value in model.state_dict().items())
    assert next(model.parameters()).device.type == 'cpu'


def test_build_model_returns_a_bare_backbone_in_eval_mode():
    """mmpretrain's ResNet.train() returns None: build_model must still return the module (in eval mode)."""
    from mmengine.config import Config
    model = build_model(Config(dict(default_scope='mmpretrain', model=dict(type='ResNet', depth=18))))
    assert type(model).__name__ == 'ResNet' and not model.training
    assert not any(module.training for module in model.modules())
