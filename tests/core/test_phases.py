"""mmdenoiserep.core.phases: enter_phase (the step DenoiseRepHook takes before every training iteration) and
the backbone-only denoise phase (set_backbone_only, backbone_only), on plain and DDP-wrapped models."""
import copy
import pickle

import pytest
import torch
from torch import nn

from mmdenoiserep import add_denoisers, denoise_loss, denoiser_parameters, denoising_layers
from mmdenoiserep.core.phases import (backbone_only, backbone_only_blocker, enter_phase, is_backbone_only,
                                      set_backbone_only)


class Classifier(nn.Module):
    """An mmengine-style model: ``forward(inputs, data_samples=None, mode)``; ``loss`` runs backbone and head.

    The backbone freezes its first layer in every ``train()`` (as mmpretrain's ``frozen_stages``)."""

    class Backbone(nn.Sequential):
        def train(self, mode=True):
            super().train(mode)
            self[0].requires_grad_(False)
            return self

    def __init__(self):
        super().__init__()
        self.backbone = add_denoisers(self.Backbone(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 4)))
        self.head = nn.Linear(4, 2)
        self.head_calls = 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.loss(inputs, data_samples) if mode == 'loss' else self.head(self.backbone(inputs))

    def loss(self, inputs, data_samples=None):
        self.head_calls += 1
        return {'loss': self.head(self.backbone(inputs)).square().mean()}


def trainable(model):
    return {name for name, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize('phase, expected', [
    ('denoise', {'backbone.0.denoiser.weight', 'backbone.2.denoiser.weight', 'backbone.2.denoiser.bias',
                 'backbone.0.denoiser.bias'}),
    ('finetune', {'backbone.1.weight', 'backbone.1.bias', 'backbone.2.weight', 'backbone.2.bias', 'head.weight',
                  'head.bias'}),
    ('joint', None)])
def test_enter_phase_sets_flags_modes_and_keeps_frozen_stages_frozen(phase, expected):
    model = Classifier()
    enter_phase(model.eval(), 'denoise')
    assert enter_phase(model, phase) is model
    assert model.training and all(layer.training and layer.phase == phase for _, layer in denoising_layers(model))
    denoisers = {name for name, _ in model.named_parameters() if '.denoiser.' in name}
    everything = {name for name, _ in model.named_parameters()} - {'backbone.0.weight', 'backbone.0.bias'}
    assert trainable(model) == (everything if expected is None else expected)  # frozen stage: only its denoiser
    assert denoisers <= trainable(model) or phase == 'finetune'
    assert model.backbone[1].training == (phase != 'denoise')  # running statistics frozen in the denoise phase
    assert not is_backbone_only(model)


def test_enter_phase_is_idempotent_and_refuses_bad_input():
    model = Classifier()
    enter_phase(model, 'denoise', backbone_only=True)
    state = (trainable(model), is_backbone_only(model), [m.training for m in model.modules()])
    enter_phase(model, 'denoise', backbone_only=True)
    assert (trainable(model), is_backbone_only(model), [m.training for m in model.modules()]) == state
    with pytest.raises(ValueError, match=r"^phase must be one of \('denoise', 'finetune', 'joint'\), got 'train'$"):
        enter_phase(model, 'train')
    with pytest.raises(ValueError, match='model has no denoising layers'):
        enter_phase(nn.Linear(2, 2), 'denoise')
    with pytest.raises(TypeError, match='expected a torch.nn.Module, got NoneType'):
        enter_phase(None, 'denoise')
    with pytest.raises(ValueError, match=r'^the model cannot run the backbone only: denoising layers outside '
                                         r'model.backbone: 0, 2$'):
        enter_phase(add_denoisers(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))), 'denoise',
                    backbone_only=True)
    enter_phase(model, 'finetune', backbone_only=True)  # backbone only applies to the denoise phase
    assert not is_backbone_only(model)


def test_backbone_only_runs_no_head_and_gives_the_denoisers_the_full_forward_gradients():
    torch.manual_seed(0)
    model = Classifier()
    with torch.no_grad():
        for p in denoiser_parameters(model):
            p.normal_(std=0.3)
    enter_phase(model, 'denoise')
    inputs, gradients = torch.randn(5, 3), []
    for only in (False, True):
        trial = copy.deepcopy(model)
        enter_phase(trial, 'denoise', backbone_only=only)
        losses = trial(inputs, mode='loss')
        assert (losses == {}) == only and trial.head_calls == (0 if only else 1)
        torch.manual_seed(1)
        denoise_loss(trial).backward()
        gradients.append({name: p.grad for name, p in trial.named_parameters() if p.grad is not None})
    assert gradients[0].keys() == gradients[1].keys() and len(gradients[0]) == 4
    for name, grad in gradients[0].items():
        torch.testing.assert_close(gradients[1][name], grad, rtol=0, atol=0)


def test_set_backbone_only_changes_nothing_but_the_loss_and_is_undone():
    model = Classifier()
    state, names, params = model.state_dict(), [n for n, _ in model.named_parameters()], list(model.parameters())
    called = []
    handle = model.register_forward_hook(lambda module, args, output: called.append(type(output)))
    assert set_backbone_only(model, True) is model and is_backbone_only(model)
    set_backbone_only(model, True)  # idempotent
    assert isinstance(model, Classifier) and type(model).__name__ == 'BackboneOnlyClassifier'
    assert 'loss' not in vars(model) and list(model.parameters()) == params
    assert [n for n, _ in model.named_parameters()] == names and model.state_dict().keys() == state.keys()
    assert model.train()(torch.randn(2, 3), mode='loss') == {} and called == [dict]  # the hooks still run
    copied = copy.deepcopy(model)
    assert is_backbone_only(copied) and copied.train()(torch.randn(2, 3), mode='loss') == {}
    assert set_backbone_only(model, False) is model and type(model) is Classifier and not is_backbone_only(model)
    set_backbone_only(model, False)  # idempotent
    handle.remove()
    pickle.dumps(model)  # the class is importable again
    assert set(model.train()(torch.randn(2, 3), mode='loss')) == {'loss'}
    with pytest.raises(TypeError, match=r'^enabled must be a bool, got 1$'):
        set_backbone_only(model, 1)


def test_backbone_only_context_manager_restores_the_state_of_before():
    model = Classifier().train()
    with backbone_only(model) as inside:
        assert inside is model and is_backbone_only(model) and model(torch.randn(2, 3), mode='loss') == {}
        with backbone_only(model):
            pass
        assert is_backbone_only(model)  # the outer block's state
    assert not is_backbone_only(model)
    set_backbone_only(model, True)
    with pytest.raises(RuntimeError):
        with backbone_only(model):
            raise RuntimeError
    assert is_backbone_only(model)


@pytest.mark.parametrize('model, reason', [
    (Classifier(), None),
    (add_denoisers(nn.Sequential(*[nn.Linear(2, 2) for _ in range(7)])),
     'denoising layers outside model.backbone: 0, 1, 2, 3, 4'),
    (nn.ModuleDict({'backbone': add_denoisers(nn.Linear(2, 2))}),
     'denoising layers outside model.backbone: none (the model has no loss method)')])
def test_backbone_only_blocker_says_why(model, reason):
    assert backbone_only_blocker(model) == reason


def test_ddp_wrapped_models_are_unwrapped(process_group):
    from types import SimpleNamespace

    from mmengine.model import MMDistributedDataParallel

    from mmdenoiserep.engine import DenoiseRepHook
    model = Classifier()
    ddp = MMDistributedDataParallel(model, find_unused_parameters=True)
    DenoiseRepHook().before_run(SimpleNamespace(model=ddp))  # loss_denoise inside DDP's forward
    assert enter_phase(ddp, 'denoise', backbone_only=True) is ddp
    assert is_backbone_only(ddp) and is_backbone_only(model) and backbone_only_blocker(ddp) is None
    losses = ddp(torch.randn(2, 3), mode='loss')  # DDP's forward: the backbone only
    assert set(losses) == {'loss_denoise'} and model.head_calls == 0
    losses['loss_denoise'].backward()
    assert all(p.grad is not None for p in denoiser_parameters(model))
    enter_phase(ddp, 'finetune')
    assert not is_backbone_only(model) and set(ddp(torch.randn(2, 3), mode='loss')) == {'loss', 'loss_denoise'}
