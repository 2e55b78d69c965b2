"""Runs that fail safely: atomic checkpoints, reseeding for exact resumes, non-finite values stopped before
the optimizer step, EMA and DDP checkpoints in fuse_ckpt, and AMP (bfloat16 autocast on the CPU)."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.hooks import Hook
from runner_helpers import classifier_cfg
from tool_helpers import run_tool

from mmdenoiserep import denoising_layers, fuse_denoisers
from mmdenoiserep.apis import build_model, build_runner
from mmdenoiserep.engine import AtomicCheckpointHook, AtomicLocalBackend, ReseedHook
from mmdenoiserep.engine.reseed_hook import derived_seed
from mmdenoiserep.utils import NonFiniteError, load_checkpoint_file, write_atomically

RESNET18 = ['model.backbone.backbone.depth=18', 'model.head.in_channels=512',
            'model.backbone.example_input_shape=[1,3,64,64]']


def model_of(runner):
    return runner.model.module if hasattr(runner.model, 'module') else runner.model


# ---------------------------------------------------------------- atomic checkpoints


def test_a_save_that_fails_midway_leaves_the_previous_checkpoint_and_pointer(tmp_path, monkeypatch):
    cfg = classifier_cfg(tmp_path, 'default_hooks.checkpoint.max_keep_ckpts=1')
    runner = build_runner(cfg)
    assert any(type(h).__name__ == 'AtomicCheckpointHook' for h in runner.hooks)
    calls = []
    put = AtomicLocalBackend.put

    def failing_put(self, obj, filepath):
        calls.append(filepath)
        if len(calls) == 2:  # epoch 2: half the bytes reach the disk, then it fails
            def half(f):
                f.write(obj[:len(obj) // 2])
                raise OSError('No space left on device')
            write_atomically(str(filepath), half)
        else:
            put(self, obj, filepath)

    monkeypatch.setattr(AtomicLocalBackend, 'put', failing_put)
    with pytest.raises(OSError, match='No space left'):
        runner.train()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == '.pth') == ['epoch_1.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'epoch_1.pth')
    assert load_checkpoint_file(str(tmp_path / 'epoch_1.pth'))['meta']['epoch'] == 1
    assert not list(tmp_path.glob('.*.tmp'))


def test_stale_temporary_files_of_killed_saves_are_removed_on_the_next_start(tmp_path):
    stale = [tmp_path / '.epoch_3.pth.abc123.tmp', tmp_path / '.last_checkpoint.x1.tmp']
    kept = tmp_path / '.fused.pth.zz.tmp'  # not a checkpoint of this run: someone else's write
    for path in stale + [kept]:
        path.write_bytes(b'partial')
    cfg = classifier_cfg(tmp_path, 'train_cfg.max_epochs=1')
    build_runner(cfg).train()
    assert not any(path.exists() for path in stale) and kept.exists()


@pytest.mark.parametrize('main_process, backend_args, removed', [
    (True, None, True),
    (False, None, False),  # another rank: only the main process touches the files
    (True, dict(backend='local'), False)])  # mmengine's backend writes in place: no temporary files of ours
def test_stale_temporary_files_are_removed_by_the_main_process_with_the_atomic_backend_only(
        tmp_path, monkeypatch, main_process, backend_args, removed):
    import mmdenoiserep.engine.atomic_checkpoint_hook as module
    monkeypatch.setattr(module, 'is_main_process', lambda: main_process)
    stale = [tmp_path / '.epoch_3.pth.abc123.tmp', tmp_path / '.last_checkpoint.x1.tmp']
    for path in stale:
        path.write_bytes(b'partial')
    runner, _ = checkpoint_runner(tmp_path, folders=False)
    AtomicCheckpointHook(interval=1, backend_args=backend_args).before_train(runner)
    assert [path.exists() for path in stale] == [not removed] * 2



@pytest.mark.parametrize('folders', [False, True])  # folders: deepspeed saves a directory per checkpoint
def test_max_keep_ckpts_removes_the_oldest_only_after_the_new_checkpoint_and_pointer(tmp_path, folders):
    runner, on_disk_at_save = checkpoint_runner(tmp_path, folders)
    hook = AtomicCheckpointHook(interval=1, max_keep_ckpts=2, save_optimizer=False)
    hook.before_train(runner)
    assert isinstance(hook.file_backend, AtomicLocalBackend)
    for step in (1, 2, 3, 3, 4):  # step 3 twice (e.g. save_last after the interval save): kept once
        save_at(hook, runner, step)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_3.pth', 'epoch_4.pth', 'last_checkpoint']
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'epoch_4.pth')
    assert runner.message_hub.get_info('keep_ckpt_ids') == [3, 4]
    assert runner.message_hub.get_info('last_ckpt') == str(tmp_path / 'epoch_4.pth')
    epoch = lambda *steps: [f'epoch_{s}.pth' for s in steps]  # noqa: E731
    assert [(files, pointer, kwargs['meta']) for files, pointer, kwargs in on_disk_at_save] == [
        ([], None, meta(1)),  # the files and the pointer when each save starts
        (epoch(1) + ['last_checkpoint'], str(tmp_path / 'epoch_1.pth'), meta(2)),
        (epoch(1, 2) + ['last_checkpoint'], str(tmp_path / 'epoch_2.pth'), meta(3)),
        (epoch(2, 3) + ['last_checkpoint'], str(tmp_path / 'epoch_3.pth'), meta(3)),
        (epoch(2, 3) + ['last_checkpoint'], str(tmp_path / 'epoch_3.pth'), meta(4))]
    assert on_disk_at_save[0][2] == dict(save_optimizer=False, save_param_scheduler=True, meta=meta(1),
                                         by_epoch=True, backend_args=hook.backend_args, file_client_args=None)


def test_checkpoint_saves_pass_file_client_args_and_extra_arguments_through(tmp_path):
    """mmengine's deprecated file_client_args and the hook's extra keyword arguments reach save_checkpoint."""
    import warnings
    runner, on_disk_at_save = checkpoint_runner(tmp_path, folders=False)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        hook = AtomicCheckpointHook(interval=1, file_client_args=dict(backend='disk'), callback='x')
        hook.before_train(runner)
    save_at(hook, runner, 1)
    assert on_disk_at_save[0][2] == dict(save_optimizer=True, save_param_scheduler=True, meta=meta(1), by_epoch=True,
                                         backend_args=None, file_client_args=dict(backend='disk'), callback='x')


@pytest.mark.parametrize('max_keep_ckpts, kept', [(1, [3]), (-1, [1, 2, 3]), (0, [1, 2, 3])])  # <= 0: keep all
def test_max_keep_ckpts_of_one_and_of_all(tmp_path, max_keep_ckpts, kept):
    runner, _ = checkpoint_runner(tmp_path, folders=False)
    hook = AtomicCheckpointHook(interval=1, by_epoch=False, max_keep_ckpts=max_keep_ckpts)
    hook.before_train(runner)
    for step in (1, 2, 3):
        save_at(hook, runner, step)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f'iter_{s}.pth' for s in kept] + ['last_checkpoint']
    assert runner.message_hub.get_info('keep_ckpt_ids') == (kept if max_keep_ckpts > 0 else None)


@pytest.mark.parametrize('kwargs, backend_args', [
    (dict(), dict(backend='mmdenoiserep_atomic_local')),
    (dict(out_dir='/runs/a'), dict(backend='mmdenoiserep_atomic_local')),
    (dict(out_dir='s3://bucket/runs'), None),  # remote: mmengine's backend for its scheme
    (dict(backend_args=dict(backend='local')), dict(backend='local')),  # the user's choice stands
    (dict(file_client_args=dict(backend='disk')), None)])  # mmengine's deprecated way, passed through
def test_atomic_checkpoint_hook_takes_the_atomic_backend_for_local_folders_only(kwargs, backend_args):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)  # file_client_args
        hook = AtomicCheckpointHook(2, by_epoch=False, **kwargs)  # mmengine's arguments, positional or not
    assert (hook.interval, hook.by_epoch, hook.out_dir, hook.backend_args, hook.file_client_args) == (
        2, False, kwargs.get('out_dir'), backend_args, kwargs.get('file_client_args'))


def save_at(hook, runner, step):
    """The hook's save of epoch (by_epoch) or iteration ``step``, as the train loop asks for it."""
    if hook.by_epoch:
        runner.epoch, runner.iter = step - 1, 0
        hook.after_train_epoch(runner)
    else:
        runner.epoch, runner.iter = 0, step - 1
        hook.after_train_iter(runner, step - 1)


def meta(epoch):
    """The meta of an epoch's save by ``save_at``."""
    return dict(epoch=epoch, iter=0)


def checkpoint_runner(tmp_path, folders):
    """A stand-in runner whose save_checkpoint writes a file (or a folder) and records, for each save,
    the files in ``tmp_path``, the pointer's content and the arguments of the call."""
    from types import SimpleNamespace

    from mmengine.logging import MessageHub
    on_disk_at_save = []

    def save_checkpoint(out_dir, filename, file_client_args, **kwargs):
        pointer = tmp_path / 'last_checkpoint'
        on_disk_at_save.append((sorted(p.name for p in tmp_path.iterdir()),
                                pointer.read_text() if pointer.exists() else None,
                                dict(kwargs, file_client_args=file_client_args)))
        path = Path(out_dir) / filename
        path.mkdir(exist_ok=True) if folders else path.write_text(filename)

    runner = SimpleNamespace(work_dir=str(tmp_path), logger=SimpleNamespace(info=lambda msg: None),
                             message_hub=MessageHub.get_instance(f'checkpoints-{tmp_path.name}'),
                             save_checkpoint=save_checkpoint)
    return runner, on_disk_at_save

# ---------------------------------------------------------------- reseeding


def test_reseed_hook_makes_draws_a_function_of_seed_and_position(monkeypatch):
    import random

    import numpy as np

    import mmdenoiserep.engine.reseed_hook as reseed_hook

    class Runner:
        seed, epoch, iter, cfg = 7, 3, 41, {}

    def draws():  # python's random, numpy's and torch's generators
        return random.random(), float(np.random.rand()), torch.rand(3)

    def seeded_draws(seed):
        random.seed(seed), np.random.seed(seed), torch.manual_seed(seed)
        return draws()

    def assert_same(a, b):
        assert a[:2] == b[:2] and torch.equal(a[2], b[2])

    hook = ReseedHook()
    assert ReseedHook.priority == 'VERY_HIGH'
    hook.before_train_epoch(Runner())
    first = draws()
    seeded_draws(123)  # whatever ran since
    hook.before_train_epoch(Runner())
    assert_same(draws(), first)
    assert_same(seeded_draws(derived_seed(7, 0, 3)), first)  # the documented seed
    hook.before_train_iter(Runner(), 0)
    by_iter = draws()
    assert_same(seeded_draws(derived_seed(7, 1, 41)), by_iter)
    assert not torch.equal(by_iter[2], first[2])
    assert len({derived_seed(7, kind, n) for kind in (0, 1) for n in range(50)}) == 100
    assert derived_seed(7, 0, 3) == int(np.random.SeedSequence([7, 0, 3]).generate_state(1)[0]) < 2 ** 32
    monkeypatch.setattr(reseed_hook, 'get_rank', lambda: 2)
    hook.before_train_epoch(Runner())  # without diff_rank_seed: the same seed on every rank
    assert_same(draws(), first)
    Runner.cfg = dict(randomness=dict(diff_rank_seed=True))  # rank 2: the run seed + 2
    hook.before_train_epoch(Runner())
    assert_same(draws(), seeded_draws(derived_seed(9, 0, 3)))


# ---------------------------------------------------------------- non-finite values


class Poison(Hook):
    """Before iteration ``at`` (1-based): a NaN in the input of the layer ``name``, or ``param`` set to Inf."""

    priority = 'LOWEST'

    def __init__(self, at, name, param=None):
        self.at, self.name, self.param, self.handle, self.snapshot = at, name, param, None, None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 != self.at:
            return
        model = model_of(runner)
        self.snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
        layer = dict(denoising_layers(model))[self.name]
        if self.param is not None:
            with torch.no_grad():
                getattr(layer.denoiser, self.param).view(-1)[0] = float('inf')
            self.snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.handle = layer.register_forward_pre_hook(lambda m, args: (args[0] * float('nan'),), prepend=True)


@pytest.mark.parametrize('at, name, param, expected', [
    (3, 'backbone.layer1.0.conv2', None, 'input of denoising layer backbone.layer1.0.conv2 at iteration 3 '
                                         '(epoch 1, phase denoise)'),
    (8, 'backbone.layer3.1.conv1', None, 'input of denoising layer backbone.layer3.1.conv1 at iteration 8 '
                                         '(epoch 2, phase finetune)'),
    (2, 'backbone.layer2.0.conv1', 'weight', 'noise-prediction loss of denoising layer backbone.layer2.0.conv1 '
                                             'at iteration 2 (epoch 1, phase denoise)'),
])
def test_a_non_finite_value_stops_training_before_the_step(tmp_path, at, name, param, expected):
    runner = build_runner(classifier_cfg(tmp_path))
    poison = Poison(at, name, param)
    runner.register_hook(poison)
    with pytest.raises(NonFiniteError) as error:
        runner.train()
    assert expected in str(error.value) and '\n' not in str(error.value)
    for key, value in model_of(runner).named_parameters():  # no optimizer step after the poisoned forward
        assert torch.equal(value, poison.snapshot[key]), key
    saved = sorted(p.name for p in tmp_path.iterdir() if p.suffix == '.pth')
    assert saved == ([] if at <= 5 else ['epoch_1.pth'])


def test_without_the_check_a_diverged_model_is_not_saved(tmp_path):
    cfg = classifier_cfg(tmp_path, 'train_cfg.max_epochs=1')
    cfg.default_hooks.non_finite_check.every_iteration = False
    runner = build_runner(cfg)
    runner.register_hook(Poison(2, 'backbone.conv1'))  # NaN from the stem: the whole network diverges
    with pytest.raises(NonFiniteError, match=r'holds non-finite values in the checkpoint of epoch 1, iteration 5: '
                                             r'not saved'):
        runner.train()
    assert not list(tmp_path.glob('*.pth')) and not list(tmp_path.glob('.*.tmp'))


def test_train_py_reports_a_non_finite_run_in_one_line(tmp_path):
    result = run_tool('train', 'configs/resnet50_denoiserep_in1k.py', '--tiny', '--work-dir', tmp_path,
                      '--cfg-options', *RESNET18, 'train_dataloader.dataset.indices=4',
                      'optim_wrapper.optimizer.lr=1e30', 'train_cfg.max_epochs=2', 'train_cfg.val_begin=100')
    assert result.returncode != 0 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if 'train.py: error:' in line]
    assert len(errors) == 1 and 'non-finite' in errors[0], result.stderr[-2000:]
    assert not list(tmp_path.rglob('epoch_2.pth'))


# ---------------------------------------------------------------- EMA and DDP checkpoints in fuse_ckpt


@pytest.fixture(scope='module')
def ema_run(tmp_path_factory):
    """2 tiny epochs with mmengine's EMAHook (momentum 0.5, so the average differs from the raw weights)."""
    work_dir = tmp_path_factory.mktemp('ema')
    cfg = classifier_cfg(work_dir)
    cfg.custom_hooks.append(dict(type='EMAHook', momentum=0.5))
    runner = build_runner(cfg)
    runner.train()
    return runner, work_dir / 'epoch_2.pth'


def fuse(*args):
    return run_tool('fuse_ckpt', 'configs/resnet50_denoiserep_in1k.py', *args, '--shape', '1', '3', '64', '64',
                    '--cfg-options', *RESNET18)


def expected_fused(runner, state_dict):
    model = copy.deepcopy(model_of(runner))
    model.load_state_dict(state_dict, strict=True)
    return fuse_denoisers(model).state_dict()


@pytest.mark.parametrize('ema', [False, True])
def test_fuse_ckpt_takes_raw_or_averaged_weights_of_an_ema_checkpoint(ema_run, tmp_path, ema):
    runner, path = ema_run
    checkpoint = load_checkpoint_file(str(path))
    averaged = checkpoint['state_dict']  # EMAHook swaps: state_dict holds the average
    raw = dict(averaged, **{k[len('module.'):]: v for k, v in checkpoint['ema_state_dict'].items()
                            if k.startswith('module.')})
    assert any(not torch.equal(raw[k], averaged[k]) for k in raw if '.denoiser.' in k)
    out = tmp_path / 'fused.pth'
    result = fuse(path, out, *(['--ema'] if ema else []))
    assert result.returncode == 0, result.stderr[-2000:]
    weights = ('EMA-averaged weights' if ema else
               'raw weights (the checkpoint also holds EMA-averaged ones: --ema fuses those)')
    assert result.stdout.splitlines()[0] == f'fusing {path}, taking {weights}'
    fused = torch.load(out, weights_only=True)['state_dict']
    for key, value in expected_fused(runner, averaged if ema else raw).items():
        assert torch.equal(fused[key], value), key


def test_fuse_ckpt_ema_flag_needs_ema_weights_and_ddp_prefixes_are_dropped(ema_run, tmp_path):
    runner, path = ema_run
    plain = tmp_path / 'ddp.pth'
    state = load_checkpoint_file(str(path))['state_dict']
    torch.save(dict(state_dict={f'module.{k}': v for k, v in state.items()}), plain)
    result = fuse(plain, tmp_path / 'no.pth', '--ema')
    assert result.returncode != 0 and 'holds no EMA weights' in result.stderr and not (tmp_path / 'no.pth').exists()
    out = tmp_path / 'fused.pth'
    result = fuse(plain, out)
    assert result.returncode == 0, result.stderr[-2000:]
    fused = torch.load(out, weights_only=True)['state_dict']
    for key, value in expected_fused(runner, state).items():
        assert torch.equal(fused[key], value), key


# ---------------------------------------------------------------- mixed precision


def test_fused_weights_are_float32_under_bfloat16_autocast_and_outputs_match():
    from config_helpers import load
    torch.manual_seed(0)
    model = build_model(load('configs/resnet50_denoiserep_in1k.py', *RESNET18))
    with torch.no_grad():
        for _, layer in denoising_layers(model):
            layer.denoiser.weight.normal_(std=0.02)
    x = torch.randn(2, 3, 64, 64)
    layer = denoising_layers(model)[5][1]
    with torch.no_grad():
        reference = model.extract_feat(x)[-1]
        expected_w = layer.fused_weights()[0]
        with torch.autocast('cpu', dtype=torch.bfloat16):
            weight = layer.fused_weights()[0]
            mixed = model.extract_feat(x)[-1]
    assert weight.dtype == torch.float32 and torch.equal(weight, expected_w)
    error = (mixed.float() - reference).norm() / reference.norm()
    assert 0 < error < 0.05, error  # autocast ran in bfloat16 (8 bits of mantissa), 20 layers deep


def test_hook_trains_with_the_amp_optimizer_wrapper(tmp_path, monkeypatch):
    """mmengine's AmpOptimWrapper (bfloat16; mmengine asserts a GPU, so its check is bypassed here)."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    cfg = classifier_cfg(tmp_path)
    cfg.optim_wrapper.update(type='AmpOptimWrapper', dtype='bfloat16', loss_scale='dynamic')
    runner = build_runner(cfg)
    seen = []

    class Record(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            seen.append((runner.message_hub.get_info('denoiserep_phase'), outputs['loss_denoise'].item()))

    runner.register_hook(Record())
    before = {k: v.clone() for k, v in model_of(runner).state_dict().items() if '.denoiser.' in k}
    runner.train()
    assert type(runner.optim_wrapper).__name__ == 'AmpOptimWrapper'
    denoise = [loss for phase, loss in seen if phase == 'denoise']
    assert len(denoise) == 5 and all(loss > 0 for loss in denoise)
    after = model_of(runner).state_dict()
    assert any(not torch.equal(after[k], v) for k, v in before.items())  # the denoisers trained
    assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())


@pytest.mark.parametrize('method', ['put', 'put_text'])
def test_atomic_backend_writes_whole_files_or_nothing(tmp_path, monkeypatch, method):
    """put/put_text: the content (text in the given encoding), and on a failing write the old file as it
    was with no temporary file left."""
    backend, path = AtomicLocalBackend(), tmp_path / 'file'
    write = getattr(backend, method)
    args = (('héllo', path, 'latin-1') if method == 'put_text' else (b'h\xe9llo', path))
    write(*args)
    assert path.read_bytes() == b'h\xe9llo'
    if method == 'put_text':
        backend.put_text('héllo', path)  # default encoding: utf-8
        assert path.read_bytes() == 'héllo'.encode('utf-8')
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr('os.replace', fail)
    with pytest.raises(OSError):
        write(*(('new', path) if method == 'put_text' else (b'new', path)))
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ['file']


def test_write_atomically_writes_a_hidden_temporary_file_beside_the_target(tmp_path):
    """'.<name>.<random>.tmp' in the target's folder (made if missing): the same file system, so the rename is
    atomic, and the name the cleanup of killed saves looks for."""
    import re
    folder = tmp_path / 'made'
    during = []
    write_atomically(str(folder / 'out.pth'), lambda f: during.extend(p.name for p in folder.iterdir()))
    assert len(during) == 1 and re.fullmatch(r'\.out\.pth\.\w+\.tmp', during[0]), during
    assert [p.name for p in folder.iterdir()] == ['out.pth']


@pytest.mark.parametrize('umask', [0o022, 0o002, 0o077])
def test_write_atomically_gives_the_mode_open_gives(tmp_path, umask):
    """A new file: 0o666 minus the umask (checked against a plain open()); an existing file keeps its mode."""
    import os
    import stat
    previous = os.umask(umask)
    try:
        write_atomically(str(tmp_path / 'new'), lambda f: f.write(b'x'))
        with open(tmp_path / 'plain', 'wb'):
            pass
    finally:
        os.umask(previous)
    mode = lambda name: stat.S_IMODE(os.stat(tmp_path / name).st_mode)  # noqa: E731
    assert mode('new') == mode('plain') == 0o666 & ~umask
    for kept in (0o600, 0o755, 0o2750):
        os.chmod(tmp_path / 'new', kept)
        write_atomically(str(tmp_path / 'new'), lambda f: f.write(b'y'))
        assert mode('new') == kept and (tmp_path / 'new').read_bytes() == b'y'
