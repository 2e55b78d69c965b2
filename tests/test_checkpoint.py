"""Checkpoint loading with torch's weights_only safety on, and exact-key state_dict loading."""
import io

import pytest
import torch
from mmengine.logging import HistoryBuffer
from torch import nn

from mmdenoiserep.utils import InputError, check_checkpoint_file, load_checkpoint_file, load_state_dict_exact


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
