"""A checkpoint carries each denoising layer's step and schedule (issue 22, item 2).

The denoiser's ``_extra_state`` (``<layer>.denoiser._extra_state``) stores num_steps, beta_range, the step t
and the noise loss; loading it into a layer whose schedule differs is refused in one line naming the layer and
both values, strict or not (mmengine's ``load_checkpoint`` included); a baseline checkpoint, which has no
denoiser entries, loads as before; a fused state_dict has exactly the stock keys.
"""
import io
from collections import OrderedDict

import pytest
import torch
from mmengine.runner import load_checkpoint
from torch import nn

from mmdenoiserep import add_denoisers, denoising_layers, fuse_denoisers
from mmdenoiserep.core.layers import parse_schedule_state
from mmdenoiserep.utils import InputError

SCHEDULE = dict(num_steps=1000, beta_range=(1e-4, 2e-3))


def plain():
    """A stock model with a conv, linears and an nn.MultiheadAttention (its in_proj is a DenoisingReadWeight)."""
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        stem=nn.Conv2d(3, 4, 3, padding=1), pool=nn.AdaptiveAvgPool2d(2), flat=nn.Flatten(1),
        fc=nn.Linear(16, 8), head=nn.Linear(8, 2)))


class WithAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.attn(x, x, x)[0])


def converted(model=None, example=None, **schedule):
    model = plain() if model is None else model
    example = torch.zeros(1, 3, 4, 4) if example is None else example
    return add_denoisers(model, example_inputs=example, **{**SCHEDULE, **schedule})


def trained(model):
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if '.denoiser.' in name:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.05)
    return model


def saved_and_loaded(state_dict):
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_the_state_dict_carries_each_layers_step_and_schedule():
    model = converted(beta_range=(2e-4, 3e-3), num_steps=500, noise_loss='l2')
    state = saved_and_loaded(model.state_dict())  # torch's weights_only loading takes it
    layers = dict(denoising_layers(model))
    assert list(layers) == ['stem', 'fc', 'head']
    for name, layer in layers.items():
        assert parse_schedule_state(state[f'{name}.denoiser._extra_state']) == dict(
            num_steps=500, beta_range=(2e-4, 3e-3), step=layer.step, noise_loss='l2')
    assert [layers[name].step for name in layers] == [3, 2, 1]
    assert all(torch.is_tensor(value) for value in state.values())  # every checkpoint value stays a tensor
    extra = {key for key in state if key.endswith('_extra_state')}
    assert extra == {f'{name}.denoiser._extra_state' for name in layers}  # under denoiser.: not a stock key

    fresh = converted(beta_range=(2e-4, 3e-3), num_steps=500, noise_loss='l2')
    fresh.load_state_dict(state)  # the same schedule: accepted, strict
    assert all(torch.equal(fresh.state_dict()[key], value) for key, value in state.items())


def test_a_fused_state_dict_has_exactly_the_stock_keys():
    model = trained(converted())
    assert list(fuse_denoisers(model).state_dict()) == list(plain().state_dict())


@pytest.mark.parametrize('schedule, stored, own', [
    (dict(beta_range=(1e-4, 2e-2)), 'num_steps=1000, beta_range=(0.0001, 0.002), step=3',
     'num_steps=1000, beta_range=(0.0001, 0.02), step=3'),
    (dict(num_steps=100), 'num_steps=1000, beta_range=(0.0001, 0.002), step=3',
     'num_steps=100, beta_range=(0.0001, 0.002), step=3'),
])
@pytest.mark.parametrize('how', ['strict', 'non-strict', 'mmengine'])
def test_a_checkpoint_of_another_schedule_is_refused_naming_the_layer(tmp_path, schedule, stored, own, how):
    checkpoint = trained(converted()).state_dict()
    model = converted(**schedule)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    with pytest.raises(ValueError) as raised:
        if how == 'mmengine':  # loads non-strictly, and only warns about key mismatches
            torch.save({'state_dict': checkpoint}, tmp_path / 'epoch_1.pth')
            load_checkpoint(model, str(tmp_path / 'epoch_1.pth'))
        else:
            model.load_state_dict(checkpoint, strict=how == 'strict')
    assert str(raised.value) == f"stem: checkpoint schedule {stored} differs from the model's {own}"
    assert isinstance(raised.value, InputError)  # a ValueError that the tools print as one line
    assert torch.equal(model.state_dict()['stem.weight'], before['stem.weight'])  # refused before any write


@pytest.mark.parametrize('strict', [True, False])
def test_a_layer_whose_step_differs_is_refused(strict):
    """Excluding the last layer renumbers the others (steps L..1 in execution order): 'stem' is step 2, not 3."""
    checkpoint = converted().state_dict()
    model = add_denoisers(plain(), example_inputs=torch.zeros(1, 3, 4, 4), exclude='head', **SCHEDULE)
    with pytest.raises(ValueError) as raised:
        model.load_state_dict(checkpoint, strict=strict)
    assert str(raised.value) == ("stem: checkpoint schedule num_steps=1000, beta_range=(0.0001, 0.002), step=3 "
                                 "differs from the model's num_steps=1000, beta_range=(0.0001, 0.002), step=2")


def test_the_attention_projection_stores_and_checks_its_schedule():
    x = torch.zeros(1, 3, 4)
    types = dict(layer_types=(nn.Linear, nn.MultiheadAttention))
    model = converted(WithAttention(), x, **types)
    other = converted(WithAttention(), x, beta_range=(1e-4, 1e-2), **types).state_dict()
    checkpoint = model.state_dict()
    key = 'attn.in_proj.denoiser._extra_state'
    checkpoint[key] = other[key]  # only the in_proj's schedule differs
    with pytest.raises(ValueError) as raised:
        model.load_state_dict(checkpoint, strict=False)
    assert str(raised.value) == ("attn.in_proj: checkpoint schedule num_steps=1000, beta_range=(0.0001, 0.01), step=3 "
                                 "differs from the model's num_steps=1000, beta_range=(0.0001, 0.002), step=3")


def test_the_noise_loss_is_stored_but_not_checked():
    """It trains the denoiser and fuses into nothing: a checkpoint may be trained further with another one."""
    checkpoint = converted(noise_loss='l1').state_dict()
    model = converted(noise_loss='l2')
    model.load_state_dict(checkpoint)
    assert parse_schedule_state(checkpoint['fc.denoiser._extra_state'])['noise_loss'] == 'l1'
    assert all(layer.noise_loss == 'l2' for _, layer in denoising_layers(model))


def test_a_baseline_checkpoint_without_denoisers_loads_as_before(tmp_path):
    """``load_from`` a baseline checkpoint: the stock keys load, the denoiser entries are missing (expected)."""
    baseline = plain().state_dict()
    model = converted(beta_range=(1e-4, 2e-2))
    result = model.load_state_dict(baseline, strict=False)
    assert result.unexpected_keys == [] and all('.denoiser.' in key for key in result.missing_keys)
    assert all(torch.equal(model.state_dict()[key], value) for key, value in baseline.items())
    torch.save({'state_dict': baseline}, tmp_path / 'baseline.pth')
    load_checkpoint(converted(num_steps=10), str(tmp_path / 'baseline.pth'))  # mmengine: warns, loads


def test_a_malformed_stored_schedule_is_refused_naming_the_layer():
    checkpoint = converted().state_dict()
    checkpoint['fc.denoiser._extra_state'] = torch.zeros(2)
    with pytest.raises(ValueError) as raised:
        converted().load_state_dict(checkpoint)
    assert str(raised.value) == ('fc: a stored schedule is a tensor of 5 values (num_steps, beta_start, beta_end, '
                                 'step, noise_loss), got (2,)')
