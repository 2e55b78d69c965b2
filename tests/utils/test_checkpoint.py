"""Checkpoint loading with torch's weights_only safety on, and exact-key state_dict loading."""
import io
import pickle

import pytest
import torch
from mmengine.logging import HistoryBuffer
from torch import nn

from mmdenoiserep.utils import (InputError, check_checkpoint_file, check_finite, first_line, first_non_finite,
                                load_checkpoint_file, load_state_dict_exact)
from mmdenoiserep.utils.checkpoint import strip_ddp_prefix


def saved(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return buffer


def test_mmengine_message_hub_loads_with_weights_only():
    history = HistoryBuffer()
    for value in (1.0, 3.0):
        history.update(value)
    checkpoint = load_checkpoint_file(saved({'message_hub': {'train/loss': history}, 'meta': {'seed': 0}}))
    restored = checkpoint['message_hub']['train/loss']
    assert restored.mean() == 2.0 and restored.statistics('max') == 3.0


@pytest.fixture
def no_process_allowlist():
    """torch's process-wide allowlist emptied for the test (an earlier test's runner may have added the
    mmengine globals to it with allow_mmengine_checkpoints), and restored after it."""
    kept = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    yield
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(kept)


def test_the_allowlist_is_numpy_reconstruction_its_dtypes_and_history_buffer():
    import numpy as np

    from mmdenoiserep.utils import checkpoint_safe_globals
    reconstruct, scalar = np.ones(1).__reduce__()[0], np.float64(1).__reduce__()[0]  # what pickle saves
    expected = [reconstruct, scalar, np.ndarray, np.dtype,
                np.dtypes.Float64DType, np.dtypes.Float32DType, np.dtypes.Float16DType, np.dtypes.Int64DType,
                np.dtypes.Int32DType, np.dtypes.Int8DType, np.dtypes.UInt8DType, np.dtypes.BoolDType,
                HistoryBuffer]
    *allowed, (restricted_getattr, name) = checkpoint_safe_globals()
    assert allowed == expected and name == 'builtins.getattr'  # getattr as tested below
    assert restricted_getattr is not getattr and restricted_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean


@pytest.mark.parametrize('dtype', ['float64', 'float32', 'float16', 'int64', 'int32', 'int8', 'uint8', 'bool'])
def test_numpy_arrays_and_scalars_of_the_allowed_dtypes_load(dtype, no_process_allowlist):
    import numpy as np
    array = np.arange(3).astype(dtype)
    loaded = load_checkpoint_file(saved({'array': array, 'scalar': array[1]}))
    assert loaded['array'].dtype == np.dtype(dtype) and loaded['array'].tolist() == array.tolist()
    assert type(loaded['scalar']) is type(array[1]) and loaded['scalar'] == array[1]


def test_numpy_values_of_other_dtypes_are_refused(no_process_allowlist):
    import numpy as np
    with pytest.raises(pickle.UnpicklingError, match='Complex64DType'):
        load_checkpoint_file(saved({'array': np.ones(2, dtype=np.complex64)}))


def test_the_hook_allows_mmengine_checkpoints_for_resume(no_process_allowlist):
    """mmengine's --resume calls torch.load itself: DenoiseRepHook's constructor allowlists the globals of
    mmengine checkpoints process-wide, and only those (a getattr beyond HistoryBuffer stays refused)."""
    from mmdenoiserep.engine import DenoiseRepHook
    history = HistoryBuffer()
    history.update(2.0)
    data = saved({'message_hub': {'train/loss': history}}).getvalue()
    with pytest.raises(pickle.UnpicklingError):
        torch.load(io.BytesIO(data), weights_only=True)
    DenoiseRepHook()
    assert torch.load(io.BytesIO(data), weights_only=True)['message_hub']['train/loss'].mean() == 2.0
    with pytest.raises(pickle.UnpicklingError, match='refusing getattr'):
        torch.load(saved({'meta': GetattrOn(HistoryBuffer, 'update')}), weights_only=True)


class GetattrOn:
    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __reduce__(self):
        return getattr, (self.owner, self.name)


@pytest.mark.parametrize('owner, name', [(HistoryBuffer, '__init__'), (HistoryBuffer, 'update'),
                                         (torch.Tensor, 'add_'), ('text', 'upper')])
def test_getattr_is_refused_beyond_history_buffer_statistics(owner, name):
    with pytest.raises(Exception, match='refusing getattr|Unsupported global'):
        load_checkpoint_file(saved({'meta': GetattrOn(owner, name)}))


@pytest.mark.parametrize('name', ['min', 'max', 'current', 'mean'])
def test_getattr_of_history_buffer_statistics_is_allowed(name):
    data = saved({'meta': GetattrOn(HistoryBuffer, name)}).getvalue()
    assert load_checkpoint_file(io.BytesIO(data))['meta'] is getattr(HistoryBuffer, name)


def test_getattr_of_history_buffer_statistics_is_allowed_in_a_fresh_process(tmp_path):
    """Also in a process that has built no HistoryBuffer yet (fuse_ckpt), where mmengine has registered no
    statistics methods."""
    import subprocess
    import sys
    names = ['min', 'max', 'current', 'mean']
    for name in names:
        (tmp_path / f'{name}.pth').write_bytes(saved({'meta': GetattrOn(HistoryBuffer, name)}).getvalue())
    script = ('import sys\nfrom mmengine.logging import HistoryBuffer\n'
              'from mmdenoiserep.utils import load_checkpoint_file\n'
              'for name in sys.argv[2:]:\n'
              '    assert load_checkpoint_file(f"{sys.argv[1]}/{name}.pth")["meta"] is getattr(HistoryBuffer, name)\n')
    result = subprocess.run([sys.executable, '-c', script, str(tmp_path), *names], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_torch_load_default_stays_strict():
    """The allowlist is scoped: nothing here turns weights_only off."""
    with pytest.raises(Exception):
        torch.load(saved({'x': GetattrOn(torch.Tensor, 'add_')}))


def test_load_state_dict_exact():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    state = {k: v.clone() + 1 for k, v in model.state_dict().items()}
    load_state_dict_exact(model, state)
    torch.testing.assert_close(model[0].weight, state['0.weight'])
    for broken, message in [({k: v for k, v in state.items() if k != '0.bias'}, 'missing 1 keys'),
                            ({**state, 'extra': torch.zeros(1)}, 'unexpected 1 keys'),
                            ({**state, '0.weight': torch.zeros(4, 2)}, 'shape mismatch')]:
        with pytest.raises(ValueError, match=message):
            load_state_dict_exact(model, broken)
    wide = nn.Sequential(*[nn.Linear(2, 2) for _ in range(3)])  # 6 keys
    state = {f'x{i}': torch.zeros(1) for i in range(4)}
    state['0.weight'] = torch.zeros(3, 2)
    with pytest.raises(ValueError) as raised:
        load_state_dict_exact(wide, state)
    assert str(raised.value) == ('missing 5 keys (0.bias, 1.bias, 1.weight, ...); unexpected 4 keys (x0, x1, x2, ...); '
                                 'shape mismatch in 1 keys (0.weight (3, 2) vs (2, 2))')
    del state['x3']
    with pytest.raises(ValueError, match=r'; unexpected 3 keys \(x0, x1, x2\); '):  # three: no '...'
        load_state_dict_exact(wide, state)


def test_check_checkpoint_file_names_what_is_wrong(tmp_path):
    complete = tmp_path / 'complete.pth'
    torch.save({'state_dict': {'w': torch.zeros(3)}}, complete)
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(complete.read_bytes()[:-30])
    check_checkpoint_file(str(complete))
    check_checkpoint_file('s3://bucket/not-here.pth')  # remote: left to the backend
    for path, what, message in [
            (tmp_path / 'missing.pth', 'checkpoint', f'checkpoint not found: {tmp_path}/missing.pth'),
            (tmp_path, 'EMA checkpoint', f'EMA checkpoint not found: {tmp_path} (a directory)'),
            (truncated, 'checkpoint', f'checkpoint {truncated} is not a complete torch checkpoint (truncated, or '
                                      'another format)')]:
        with pytest.raises(InputError) as error:
            check_checkpoint_file(str(path), what)
        assert str(error.value) == message


def test_first_line_gives_the_type_and_the_first_line_of_the_message():
    assert first_line(ValueError('  bad value\nmore detail')) == 'ValueError: bad value'
    assert first_line(KeyError()) == 'KeyError: '


def test_ddp_prefix_is_stripped_only_when_every_key_has_it():
    value = torch.zeros(1)
    assert strip_ddp_prefix({'module.a': value, 'module.b.module.c': value}) == {'a': value, 'b.module.c': value}
    mixed = {'module.a': value, 'b': value}
    assert strip_ddp_prefix(mixed) == mixed and strip_ddp_prefix({}) == {}


def test_the_first_non_finite_floating_tensor_is_named():
    state = {'steps': torch.tensor([2 ** 62]), 'ok': torch.ones(3),
             'w': torch.tensor([1.0, float('nan'), float('inf'), 2.0]), 'v': torch.tensor([float('nan')])}
    assert first_non_finite(state) == ('w', 2, 4)
    assert first_non_finite({'w': torch.tensor([1.0, float('-inf'), 2.0])}) == ('w', 1, 3)  # non-finite, not finite
    assert first_non_finite({'ok': torch.ones(2), 'n': 3}) is None
    check_finite({'ok': torch.ones(2)}, 'run/epoch_1.pth')
    with pytest.raises(InputError) as raised:
        check_finite(state, 'run/epoch_1.pth')
    assert str(raised.value) == ('run/epoch_1.pth holds non-finite values in w (2 of 4): a diverged run; refusing '
                                 'to use it')


def test_read_denoiserep_checkpoint_takes_what_real_runs_write(tmp_path):
    """Bare, DDP-prefixed and EMAHook checkpoints; the weights taken are named in meta; each refusal is one line."""
    from mmdenoiserep.utils import read_denoiserep_checkpoint
    raw = {'conv.weight': torch.ones(2), 'conv.denoiser.weight': torch.full((2,), 3.0)}
    averaged = {'conv.weight': torch.zeros(2), 'conv.denoiser.weight': torch.full((2,), 5.0)}
    cases = {
        'bare': (raw, False, raw, "the checkpoint's weights", {}),
        'bare, keys named meta': ({**raw, 'meta': torch.ones(3)}, False, {**raw, 'meta': torch.ones(3)},
                                  "the checkpoint's weights", {}),  # a bare state_dict's 'meta' is a tensor
        'ddp': ({'state_dict': {f'module.{k}': v for k, v in raw.items()}, 'meta': {'epoch': 4}}, False, raw,
                "the checkpoint's weights", {'epoch': 4}),
        'ema-raw': ({'state_dict': averaged, 'ema_state_dict': {f'module.{k}': v for k, v in raw.items()},
                     'meta': {'iter': 9}}, False, raw,
                    'raw weights (the checkpoint also holds EMA-averaged ones: --ema fuses those)', {'iter': 9}),
        'ema-averaged': ({'state_dict': averaged, 'ema_state_dict': {f'module.{k}': v for k, v in raw.items()}},
                         True, averaged, 'EMA-averaged weights', {}),
    }
    for name, (content, ema, state_dict, weights, meta) in cases.items():
        torch.save(content, tmp_path / f'{name}.pth')
        got_meta, got = read_denoiserep_checkpoint(str(tmp_path / f'{name}.pth'), ema=ema)
        assert got.keys() == state_dict.keys() and all(torch.equal(got[k], v) for k, v in state_dict.items()), name
        assert got_meta == {**meta, 'denoiserep_weights': weights}, name
    torch.save({'state_dict': {'conv.weight': torch.ones(2)}}, tmp_path / 'fused.pth')
    torch.save({'state_dict': {}}, tmp_path / 'empty.pth')
    torch.save({**raw, 'conv.bias': torch.tensor([0.0, float('inf')])}, tmp_path / 'diverged.pth')
    (tmp_path / 'text.pth').write_text('not a checkpoint')
    for path, ema, message in [
            (tmp_path / 'missing.pth', False, f'checkpoint not found: {tmp_path}/missing.pth'),
            (tmp_path / 'bare.pth', True, f'{tmp_path}/bare.pth holds no EMA weights (no ema_state_dict: not saved '
                                          'with EMAHook); drop --ema'),
            (tmp_path / 'fused.pth', False, f'{tmp_path}/fused.pth has no denoiser parameters (already fused, or not '
                                            'a DenoiseRep checkpoint)'),
            (tmp_path / 'empty.pth', False, f'{tmp_path}/empty.pth holds no state_dict of tensors'),
            (tmp_path / 'diverged.pth', False, f'{tmp_path}/diverged.pth holds non-finite values in conv.bias (1 of '
                                               '2): a diverged run; refusing to use it'),
            (tmp_path / 'text.pth', False, f'cannot read checkpoint {tmp_path}/text.pth: UnpicklingError: ')]:
        with pytest.raises(InputError) as raised:
            read_denoiserep_checkpoint(str(path), ema=ema)
        assert str(raised.value).startswith(message) and '\n' not in str(raised.value)
        assert str(raised.value) == message or path.name == 'text.pth'


def test_checkpoint_state_dict_needs_a_mapping_of_tensors():
    from mmdenoiserep.utils import checkpoint_state_dict
    weights = {'w': torch.zeros(1)}
    assert checkpoint_state_dict({'state_dict': weights, 'meta': {}}) is weights
    assert checkpoint_state_dict(weights) is weights
    for bad in ([torch.zeros(1)], {'state_dict': {}}, {'state_dict': {'w': torch.zeros(1), 'step': 3}}, {}):
        with pytest.raises(InputError) as raised:
            checkpoint_state_dict(bad)
        assert str(raised.value) == 'holds no state_dict of tensors'


def test_load_checkpoint_file_maps_to_the_given_device():
    """map_location reaches torch.load: 'meta' gives meta tensors; by default the CPU."""
    data = saved({'w': torch.ones(2)}).getvalue()
    assert load_checkpoint_file(io.BytesIO(data), map_location='meta')['w'].device.type == 'meta'
    assert load_checkpoint_file(io.BytesIO(data))['w'].device.type == 'cpu'


def test_an_unfused_checkpoint_is_refused_for_a_model_without_denoisers():
    from mmdenoiserep import add_denoisers
    from mmdenoiserep.utils import check_not_unfused
    unfused = add_denoisers(nn.Sequential(nn.Linear(2, 2))).state_dict()  # A, a and the stored schedule
    with pytest.raises(InputError) as raised:
        check_not_unfused(nn.Sequential(nn.Linear(2, 2)), {'state_dict': unfused})
    assert str(raised.value) == (
        'the checkpoint is an unfused DenoiseRep checkpoint (3 denoiser tensors) and this model has no denoisers: '
        'fuse it first with tools/fuse_ckpt.py DENOISEREP_CONFIG CHECKPOINT OUT, or use its DenoiseRep config')
    check_not_unfused(add_denoisers(nn.Sequential(nn.Linear(2, 2))), unfused)  # a model with denoisers
    check_not_unfused(nn.Sequential(nn.Linear(2, 2)), {'state_dict': {'0.weight': torch.ones(2, 2)}})  # fused
    check_not_unfused(nn.Sequential(nn.Linear(2, 2)), {'state_dict': {}})  # not a state_dict: left to loading


def test_load_checkpoint_file_asks_for_weights_only_explicitly(monkeypatch):
    """setup.py allows torch >= 2.1, whose torch.load defaults to weights_only=False before 2.6: the flag is
    passed, not left to the default."""
    calls = []
    monkeypatch.setattr(torch, 'load', lambda *args, **kwargs: calls.append(kwargs) or {})
    load_checkpoint_file('any.pth')
    assert calls == [dict(map_location='cpu', weights_only=True)]


def test_convert_checkpoint_file_writes_meta_and_state_dict_or_exits_with_one_line_and_no_file(tmp_path):
    from mmdenoiserep.utils import convert_checkpoint_file
    src, dst = tmp_path / 'src.pth', tmp_path / 'out' / 'dst.pth'
    torch.save({'w': torch.ones(2)}, src)
    state_dict, meta = convert_checkpoint_file(str(src), str(dst), lambda ckpt: ({'v': ckpt['w'] * 2}, dict(n=1)),
                                               'tool.py')
    assert meta == dict(converted_from=str(src), converter='tool.py', n=1) and state_dict['v'].equal(2 * torch.ones(2))
    written = torch.load(dst, weights_only=True)
    assert written['meta'] == meta and written['state_dict']['v'].equal(state_dict['v'])
    dst.unlink()

    def refuse(checkpoint):
        raise InputError("unexpected key 'w': not a test checkpoint")

    for convert, path, message in [
            (refuse, src, "tool.py: error: unexpected key 'w': not a test checkpoint"),
            (lambda ckpt: ({'w': torch.full((2,), float('nan'))}, {}), src,
             f'tool.py: error: {src} holds non-finite values in w (2 of 2): a diverged run; refusing to use it'),
            (refuse, tmp_path, f'tool.py: error: SRC not found: {tmp_path} (a directory)')]:
        with pytest.raises(SystemExit) as exited:
            convert_checkpoint_file(str(path), str(dst), convert, 'tool.py')
        assert exited.value.code == message and not dst.exists()  # sys.exit(str): the one line, status 1
