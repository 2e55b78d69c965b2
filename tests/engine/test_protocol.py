"""The training protocol in the configurations users run (issue 10): real mmengine runs on tiny data.

ResNet-18 classifier with DenoiseRep on 10 tiny ImageNet images (5 iterations per epoch), phases
('denoise', 'finetune') of one epoch (or of ``interval`` iterations), unless a test says otherwise.
"""
import os

import pytest
import torch
from mmengine.hooks import Hook
from runner_helpers import IterationRecord, LossRecord, Snapshots, changed, classifier_cfg

from mmdenoiserep import denoising_layers
from mmdenoiserep.core.phases import enter_phase, is_backbone_only
from mmdenoiserep.models import strip_denoiserep
from mmdenoiserep.apis import build_runner
from mmdenoiserep.testing.tiny_config import TINY_ITERS
from mmdenoiserep.utils import InputError


def train(cfg, *hooks):
    runner = build_runner(cfg)
    for hook in hooks:
        runner.register_hook(hook)
    runner.train()
    return runner


def iteration_loop(cfg, max_iters):
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10 ** 6)
    cfg.log_processor = dict(by_epoch=False)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10 ** 6, by_epoch=False)
    for hook in cfg.custom_hooks:  # the config counts epochs; left unset, the hook follows the loop
        hook.pop('by_epoch', None)
    return cfg


# 1. iteration-based loops ------------------------------------------------------------------------------

def test_phases_follow_an_iteration_based_loop(tmp_path):
    cfg = iteration_loop(classifier_cfg(tmp_path), max_iters=8)
    cfg.custom_hooks[0].interval = 2  # by_epoch left unset: it follows the loop
    record, losses = IterationRecord(), LossRecord()
    train(cfg, record, losses)
    assert record.phases == ['denoise'] * 2 + ['finetune'] * 2 + ['denoise'] * 2 + ['finetune'] * 2
    values = losses.values('loss_denoise')
    assert (values[[0, 1, 4, 5]] > 0).all() and (values[[2, 3, 6, 7]] == 0).all()


def test_by_epoch_under_an_iteration_loop_is_refused(tmp_path):
    cfg = iteration_loop(classifier_cfg(tmp_path), max_iters=4)
    cfg.custom_hooks[0].by_epoch = True
    with pytest.raises(InputError, match='by_epoch=True under an IterBasedTrainLoop'):
        train(cfg)


def test_tiny_gives_iteration_phases_to_iteration_loops():
    from mmengine.config import Config

    from mmdenoiserep.testing.tiny_config import tiny_config
    cfg = Config.fromfile('configs/fcn_r50_denoiserep_ade20k.py')  # IterBasedTrainLoop (mmseg)
    cfg.custom_hooks[0].pop('by_epoch', None)  # unset: follows the loop
    hook = tiny_config(cfg).custom_hooks[0]
    assert hook.interval == TINY_ITERS // 4 and hook.get('by_epoch') is None
    epochs = tiny_config(Config.fromfile('configs/resnet50_denoiserep_in1k.py'))
    assert epochs.custom_hooks[0].interval == 1


# 2. gradient checkpointing ----------------------------------------------------------------------------

def test_with_cp_resnet_trains_every_denoiser_from_its_loss():
    """mmpretrain's ResNet with with_cp=True (reentrant checkpointing), joint phase: the noise-prediction
    loss alone gives every one of the 20 denoisers a gradient (the task loss is left out on purpose)."""
    from mmengine.registry import MODELS, init_default_scope

    from mmdenoiserep import denoise_loss, set_phase
    init_default_scope('mmpretrain')
    backbone = MODELS.build(dict(type='mmdenoiserep.DenoiseRepBackbone', example_input_shape=(1, 3, 32, 32),
                                 backbone=dict(type='ResNet', depth=18, with_cp=True)))
    set_phase(backbone, 'joint')
    backbone.train()  # (returns None for this backbone: do not chain)
    backbone(torch.randn(2, 3, 32, 32))
    losses = denoise_loss(backbone, per_layer=True)
    assert len(losses) == 20 and all(loss.requires_grad for loss in losses.values())
    sum(losses.values()).backward()
    assert all(layer.denoiser.weight.grad.abs().sum() > 0 for _, layer in denoising_layers(backbone))


# 3. frozen_stages --------------------------------------------------------------------------------------

FROZEN = {'backbone.conv1', 'backbone.layer1.0.conv1', 'backbone.layer1.0.conv2', 'backbone.layer1.1.conv1',
          'backbone.layer1.1.conv2'}  # mmpretrain ResNet-18, frozen_stages=1: the stem and stage 1


def test_frozen_stages_keep_their_weights_and_train_their_denoisers(tmp_path):
    cfg = classifier_cfg(tmp_path, 'model.backbone.backbone.frozen_stages=1')
    snapshots, record = Snapshots(), IterationRecord()
    runner = train(cfg, snapshots, record)
    (base0, den0), (base1, den1), (base2, den2) = snapshots.states
    layers = {name for name, _ in denoising_layers(runner.model)}
    assert FROZEN < layers and len(layers) == 20
    assert changed(den0, den1) == set(den0)  # every denoiser trained in the denoise epoch
    assert not changed(base0, base1) and not changed(den1, den2)
    frozen_weights = {f'{name}.weight' for name in FROZEN}
    assert not changed(base1, base2) & frozen_weights  # still frozen in finetune
    assert changed(base1, base2) & {f'{name}.weight' for name in layers - FROZEN}
    for iteration in record.iterations[:5]:  # denoise: every layer denoises, every denoiser trainable
        assert set(iteration['layers_training']) == set(iteration['denoisers_trainable']) == layers
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert '5 of 20 denoising layers have frozen stock weights' in log
    assert all(name in log for name in FROZEN)


# 4. gradient accumulation ------------------------------------------------------------------------------

def test_gradient_accumulation_never_crosses_a_phase_change(tmp_path):
    # 5 iterations per epoch, updates every 3: gradients are pending at every epoch end
    cfg = classifier_cfg(tmp_path, 'train_cfg.max_epochs=3', 'optim_wrapper.accumulative_counts=3')
    snapshots = Snapshots()
    train(cfg, snapshots)
    (base0, den0), (base1, den1), (base2, den2), (base3, den3) = snapshots.states
    assert not changed(base0, base1) and not changed(base2, base3)  # denoise epochs: network untouched
    assert not changed(den1, den2)  # finetune epoch: denoisers untouched
    assert changed(den0, den1) and changed(den2, den3) and changed(base1, base2)


# 5 and 8. DDP (one process, gloo): mmcv SyncBN, label-free mode, find_unused_parameters -----------------

def test_mmcv_sync_bn_statistics_stay_frozen_in_the_denoise_phase(tmp_path, process_group):
    """Label-free mode under DDP with mmcv's SyncBatchNorm (not a torch _BatchNorm)."""
    from mmcv.ops import SyncBatchNorm
    cfg = classifier_cfg(tmp_path, 'model.backbone.backbone.norm_cfg.type=MMSyncBN', 'train_cfg.max_epochs=1',
                         'find_unused_parameters=True', launcher='pytorch')
    cfg.custom_hooks[0].phases = ('denoise',)
    snapshots, record = Snapshots(), IterationRecord()
    runner = train(cfg, snapshots, record)
    model = runner.model.module
    assert sum(isinstance(m, SyncBatchNorm) for m in model.modules()) == 20  # not reverted: distributed
    assert all(iteration['norms_training'] == [] for iteration in record.iterations)
    (base0, den0), (base1, den1) = snapshots.states
    assert not changed(base0, base1)  # running statistics included
    assert changed(den0, den1) == set(den0)


@pytest.mark.parametrize('phases', [('denoise',), ('finetune',), ('denoise', 'finetune')])
def test_phases_that_freeze_need_find_unused_parameters_under_ddp(tmp_path, process_group, phases):
    cfg = classifier_cfg(tmp_path, 'find_unused_parameters=False', launcher='pytorch')
    cfg.custom_hooks[0].phases = phases
    with pytest.raises(InputError, match='set find_unused_parameters = True'):
        train(cfg)


def test_joint_phase_runs_under_ddp_without_find_unused_parameters(tmp_path, process_group):
    cfg = classifier_cfg(tmp_path, 'find_unused_parameters=False', 'train_cfg.max_epochs=1', images=6,
                         launcher='pytorch')
    cfg.custom_hooks[0].phases = ('joint',)
    snapshots = Snapshots()
    train(cfg, snapshots)
    (base0, den0), (base1, den1) = snapshots.states
    assert changed(den0, den1) == set(den0) and changed(base0, base1)


def test_label_free_mode_trains_under_ddp_with_find_unused_parameters(tmp_path, process_group):
    cfg = classifier_cfg(tmp_path, 'find_unused_parameters=True', launcher='pytorch')
    cfg.custom_hooks[0].phases = ('denoise',)
    snapshots = Snapshots()
    train(cfg, snapshots)
    (base0, den0), _, (base2, den2) = snapshots.states
    assert not changed(base0, base2) and changed(den0, den2) == set(den0)


# a model without denoisers (deploy) ----------------------------------------------------------------------

def test_training_a_model_without_denoisers_is_refused(tmp_path):
    cfg = classifier_cfg(tmp_path)
    cfg.model = strip_denoiserep(cfg.model)
    with pytest.raises(InputError, match='no denoising layers'):
        train(cfg)


def classifier_in(loop, tmp_path, max_iters):
    """The classifier config under an epoch loop (2 epochs: denoise, finetune) or an iteration loop of
    ``max_iters`` (phases of 2 iterations)."""
    cfg = classifier_cfg(tmp_path)
    if loop == 'iteration':
        cfg = iteration_loop(cfg, max_iters=max_iters)
        cfg.custom_hooks[0].interval = 2
    return cfg


@pytest.mark.parametrize('loop', ['epoch', 'iteration'])
def test_no_hook_or_recorded_state_is_left_on_the_model(tmp_path, loop):
    runner = build_runner(classifier_in(loop, tmp_path, max_iters=4))
    model = runner.model
    seen = {}

    class DuringTraining(Hook):  # the state this test expects gone: there while training
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.message_hub.get_info('denoiserep_phase') == 'denoise':
                seen['backbone only'] = is_backbone_only(model)

    runner.register_hook(DuringTraining())
    runner.train()
    assert seen == {'backbone only': True}
    assert not is_backbone_only(model) and 'loss' not in vars(model)  # the denoise phase's backbone-only loss
    layers = denoising_layers(model)
    assert len(layers) == 20 and all(not layer.recorded_inputs for _, layer in layers)
    assert all(layer.reuse_fused_weights for _, layer in layers)
    # the hooks on the model are gone: no loss_denoise added, and no forward discards the calls of the last
    data = model.data_preprocessor(next(iter(runner.train_dataloader)), True)
    enter_phase(model, 'joint')
    for _ in range(2):
        losses = model(**data, mode='loss')
    assert 'loss_denoise' not in losses and all(len(layer.recorded_inputs) == 2 for _, layer in layers)
    assert os.path.isfile(tmp_path / ('epoch_2.pth' if loop == 'epoch' else 'iter_4.pth'))


@pytest.mark.parametrize('loop', ['epoch', 'iteration'])
def test_norm_layers_train_again_in_the_finetune_phase(tmp_path, loop):
    """Denoise: every BatchNorm in eval mode (running statistics frozen); finetune: all back in train mode."""
    record = IterationRecord()
    runner = train(classifier_in(loop, tmp_path, max_iters=6), record)
    norms = [name for name, m in runner.model.named_modules() if getattr(m, 'running_mean', None) is not None]
    assert len(norms) == 20
    phases = [iteration['phase'] for iteration in record.iterations]
    assert phases[0] == 'denoise' and 'finetune' in phases
    for iteration in record.iterations:
        assert iteration['norms_training'] == ([] if iteration['phase'] == 'denoise' else norms), iteration['phase']


def test_loss_denoise_is_loss_weight_times_the_per_layer_losses_of_the_same_iteration(tmp_path):
    """The logged loss_denoise of every iteration equals loss_weight x the sum of the 20 per-layer losses
    that the hook logs for that iteration (denoise, backbone only, and joint, the full forward)."""
    cfg = iteration_loop(classifier_cfg(tmp_path), max_iters=4)
    cfg.custom_hooks[0].update(phases=('denoise', 'joint'), interval=2, loss_weight=0.37, log_interval=1)
    runner = build_runner(cfg)
    per_layer = {}
    log_scalars = runner.visualizer.add_scalars

    def record(scalars, step=0, **kwargs):
        if any(key.startswith('denoise/') for key in scalars):
            per_layer[step] = {key: value for key, value in scalars.items() if key.startswith('denoise/')}
        return log_scalars(scalars, step=step, **kwargs)

    runner.visualizer.add_scalars = record
    recorded = LossRecord()
    runner.register_hook(recorded)
    runner.train()
    values = recorded.values('loss_denoise')
    assert sorted(per_layer) == [1, 2, 3, 4] and all(len(losses) == 20 for losses in per_layer.values())
    for step, losses in per_layer.items():
        assert values[step - 1] == pytest.approx(0.37 * sum(losses.values()), rel=1e-5), step
    assert min(values) > 0
