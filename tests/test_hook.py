"""DenoiseRepHook in real mmengine runs on the tiny data: loss key, phases, frozen statistics, resume."""
import copy

import pytest
import torch
from mmengine.hooks import Hook
from runner_helpers import RESNET18, LossRecord, Snapshots, changed, tiny_cfg

from mmdenoiserep import denoising_layers, fuse_denoisers
from mmdenoiserep.models import strip_denoiserep
from mmdenoiserep.runner import build_runner
from mmdenoiserep.utils import load_state_dict_exact


@pytest.fixture(scope='module')
def trained_classifier(tmp_path_factory):
    """ResNet-18 classifier with DenoiseRep, 2 tiny epochs: denoise, then finetune."""
    work_dir = tmp_path_factory.mktemp('cls')
    cfg = tiny_cfg('configs/resnet50_denoiserep_in1k.py', work_dir, *RESNET18)
    runner = build_runner(cfg)
    snapshots, runner.losses = Snapshots(), LossRecord()
    runner.register_hook(snapshots)
    runner.register_hook(runner.losses)
    runner.train()
    return runner, snapshots, work_dir


def test_denoise_phase_changes_nothing_of_the_network(trained_classifier):
    runner, snapshots, _ = trained_classifier
    (base0, den0), (base1, den1), (base2, den2) = snapshots.states
    assert set(base0) == set(base1)
    for name in base0:  # parameters and BN running statistics alike
        assert torch.equal(base0[name], base1[name]), name
    assert changed(den0, den1) == set(den0)  # every denoiser trained
    assert not changed(den1, den2)  # frozen in finetune
    assert changed(base1, base2)  # the network trained in finetune
    assert runner.message_hub.get_info('denoiserep_phase') == 'finetune'


def test_loss_denoise_is_a_logged_loss(trained_classifier):
    runner, _, _ = trained_classifier
    values, losses = runner.losses.values('loss_denoise'), runner.losses.values('loss')
    half = len(values) // 2  # one epoch of denoise, one of finetune
    # denoise: only the backbone runs (backbone_only), so the total is loss_denoise alone
    assert (values[:half] > 0).all() and (losses[:half] == values[:half]).all()
    assert (values[half:] == 0).all() and (losses[half:] > 0).all()  # finetune: no loss computed


def test_validation_runs_the_fused_path(trained_classifier):
    runner, _, _ = trained_classifier
    model = runner.model
    batch = next(iter(runner.val_dataloader))
    model.eval()
    with torch.no_grad():
        unfused = [s.pred_score for s in model.val_step(batch)]
    stock = build_runner(tiny_cfg('configs/resnet50_denoiserep_in1k.py', runner.work_dir, *RESNET18,
                                  'model.backbone.deploy=True')).model
    fused = fuse_denoisers(copy.deepcopy(model))
    load_state_dict_exact(stock, fused.state_dict())
    stock.eval()
    with torch.no_grad():
        for a, b in zip(unfused, [s.pred_score for s in stock.val_step(batch)]):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_resume_continues_the_phase_schedule(trained_classifier, tmp_path):
    _, _, work_dir = trained_classifier
    cfg = tiny_cfg('configs/resnet50_denoiserep_in1k.py', tmp_path, *RESNET18, 'train_cfg.max_epochs=3')
    cfg.resume, cfg.load_from = True, str(work_dir / 'epoch_2.pth')  # loads with weights_only on
    runner = build_runner(cfg)
    phases = []

    class Record(Hook):
        def before_train_iter(self, runner, batch_idx, data_batch=None):
            phases.append(runner.message_hub.get_info('denoiserep_phase'))

    runner.register_hook(Record(), priority='LOWEST')
    runner.train()
    assert runner.epoch == 3 and set(phases) == {'denoise'}  # epoch index 2: (2 // 1) % 2 -> denoise


@pytest.mark.parametrize('config, options', [
    ('configs/mask_rcnn_swinv2_t_denoiserep_coco.py', []),
    ('configs/fcn_r50_denoiserep_ade20k.py', ['model.backbone.backbone.depth=18',
                                              'model.decode_head.in_channels=512',
                                              'model.decode_head.channels=64',
                                              'model.auxiliary_head.in_channels=256',
                                              'model.auxiliary_head.channels=32']),
])
def test_hook_drives_detectors_and_segmentors(config, options, tmp_path):
    cfg = tiny_cfg(config, tmp_path, *options)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
    cfg.custom_hooks[0].update(by_epoch=False, interval=1, log_interval=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    runner, record = build_runner(cfg), LossRecord()
    runner.register_hook(record)
    runner.train()
    assert denoising_layers(runner.model)
    assert runner.message_hub.get_info('denoiserep_phase') == 'finetune'
    values = record.values('loss_denoise')
    assert values[0] > 0 and values[-1] == 0  # iteration 1 denoise, iteration 2 finetune


def test_strip_gives_the_baseline_of_each_config():
    from mmengine.config import Config
    cfg = Config.fromfile('configs/mask_rcnn_swinv2_t_denoiserep_coco.py')
    base = Config.fromfile('configs/mask_rcnn_swinv2_t_coco.py')
    assert strip_denoiserep(cfg.model) == base.model


def test_phase_schedule_and_arguments():
    from mmdenoiserep.engine import DenoiseRepHook
    alternating = DenoiseRepHook(phases=('denoise', 'finetune'), interval=3)
    assert [alternating.phase_at(epoch, 0) for epoch in range(7)] == ['denoise'] * 3 + ['finetune'] * 3 + ['denoise']
    by_iter = DenoiseRepHook(phases=('denoise', 'joint'), interval=2, by_epoch=False)
    assert [by_iter.phase_at(5, i) for i in range(5)] == ['denoise', 'denoise', 'joint', 'joint', 'denoise']
    label_free = DenoiseRepHook(phases=('denoise',))
    assert {label_free.phase_at(e, e * 10) for e in range(20)} == {'denoise'}
    for bad in (dict(phases=()), dict(phases=('train',)), dict(interval=0), dict(interval=1.5)):
        with pytest.raises(ValueError):
            DenoiseRepHook(**bad)


def test_no_cache_or_backbone_only_override_left_after_the_run(trained_classifier):
    runner, _, _ = trained_classifier
    model = runner.model
    assert 'loss' not in model.__dict__  # the denoise phase's backbone-only loss is gone
    layers = denoising_layers(model)
    # the validation scope restored the default (reuse W' in eval); W' kept now comes from a later eval forward
    assert layers and all(layer.reuse_fused_weights for _, layer in layers)


# Unit tests of DenoiseRepHook's methods with stand-in runners: each message, argument and branch exactly.

@pytest.fixture
def logged(monkeypatch):
    """(level name, message) of each print_log call of the hook."""
    import logging

    import mmdenoiserep.engine.hook as hook_module
    records = []

    def print_log(msg, logger=None, level=logging.INFO):
        assert logger == 'current', logger  # the runner's logger
        records.append((logging.getLevelName(level), msg))

    monkeypatch.setattr(hook_module, 'print_log', print_log)
    return records


def two_layer_model():
    from mmdenoiserep import add_denoisers
    return add_denoisers(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)))


def train_loop(kind: str, length: int):
    """An EpochBasedTrainLoop of ``length`` epochs or an IterBasedTrainLoop of ``length`` iterations."""
    from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
    loop = object.__new__(EpochBasedTrainLoop if kind == 'epoch' else IterBasedTrainLoop)
    loop._max_epochs, loop._max_iters = (length, length * 10) if kind == 'epoch' else (1, length)
    return loop


def stand_in_runner(model=None, loop=None, epoch=0, iteration=0):
    from types import SimpleNamespace
    scalars, infos = [], []
    return SimpleNamespace(
        model=two_layer_model() if model is None else model, train_loop=loop, epoch=epoch, iter=iteration,
        visualizer=SimpleNamespace(add_scalars=lambda values, step: scalars.append((values, step))),
        message_hub=SimpleNamespace(update_info=lambda key, value: infos.append((key, value))),
        scalars=scalars, infos=infos)


def test_hook_defaults_are_the_documented_ones():
    from mmdenoiserep.engine import DenoiseRepHook
    hook = DenoiseRepHook()
    assert (hook.loss_weight, hook.phases, hook.interval, hook.by_epoch, hook.log_interval, hook.loss_positions,
            hook.backbone_only, hook.check_finite, hook.offset) == (0.1, ('denoise', 'finetune'), 1, None, 50, 1.0,
                                                                    True, True, 0)
    assert DenoiseRepHook.priority == 'NORMAL'
    hook = DenoiseRepHook(loss_weight=1, phases='joint', loss_positions=1, backbone_only=0, check_finite=1)
    assert (hook.phases, hook.loss_positions, hook.backbone_only, hook.check_finite) == (('joint',), 1.0, False, True)
    assert type(hook.loss_weight) is float and type(hook.loss_positions) is float


@pytest.mark.parametrize('kwargs, message', [
    (dict(phases=()), "phases must be a non-empty sequence of ('denoise', 'finetune', 'joint'), got ()"),
    (dict(phases=('denoise', 'train')),
     "phases must be a non-empty sequence of ('denoise', 'finetune', 'joint'), got ('denoise', 'train')"),
    (dict(interval=0), 'interval must be a positive int, got 0'),
    (dict(interval=1.5), 'interval must be a positive int, got 1.5'),
    (dict(by_epoch='yes'), "by_epoch must be None, True or False, got 'yes'"),
    (dict(loss_positions=0), 'loss_positions must be in (0, 1], got 0'),
    (dict(loss_positions=1.5), 'loss_positions must be in (0, 1], got 1.5'),
    (dict(loss_positions='all'), "loss_positions must be in (0, 1], got 'all'"),
    (dict(offset=-1), 'offset must be a non-negative int, got -1'),
    (dict(offset=True), 'offset must be a non-negative int, got True'),
    (dict(offset=0.5), 'offset must be a non-negative int, got 0.5'),
])
def test_hook_refuses_bad_arguments(kwargs, message):
    from mmdenoiserep.engine import DenoiseRepHook
    with pytest.raises(ValueError) as raised:
        DenoiseRepHook(**kwargs)
    assert str(raised.value) == message


@pytest.mark.parametrize('by_epoch, kind, counts_epochs', [
    (None, 'epoch', True), (None, 'iteration', False), (True, 'epoch', True), (False, 'epoch', False),
    (False, 'iteration', False), (True, 'other', True), (False, 'other', False)])
def test_hook_resolves_by_epoch_against_the_train_loop(by_epoch, kind, counts_epochs):
    from mmdenoiserep.engine import DenoiseRepHook
    loop = object() if kind == 'other' else train_loop(kind, 4)
    assert DenoiseRepHook(by_epoch=by_epoch)._counts_epochs(loop) is counts_epochs


@pytest.mark.parametrize('by_epoch, loop, message', [
    (None, object(), 'DenoiseRepHook: cannot tell whether object counts epochs; set by_epoch=True or False in the '
                     'hook config'),
    (True, 'iteration', 'DenoiseRepHook: by_epoch=True under an IterBasedTrainLoop (a single epoch) never changes '
                        'phase; set by_epoch=False (interval in iterations) or leave it unset')])
def test_hook_refuses_a_loop_it_cannot_count(by_epoch, loop, message):
    from mmdenoiserep.engine import DenoiseRepHook
    from mmdenoiserep.utils import InputError
    with pytest.raises(InputError) as raised:
        DenoiseRepHook(by_epoch=by_epoch)._counts_epochs(train_loop(loop, 4) if isinstance(loop, str) else loop)
    assert str(raised.value) == message


@pytest.mark.parametrize('kind, length, unreached', [('epoch', 2, "['finetune']"), ('epoch', 3, None),
                                                     ('iteration', 2, "['finetune']"), ('iteration', 3, None)])
def test_before_train_warns_of_phases_the_run_never_reaches(kind, length, unreached, logged):
    from mmdenoiserep.engine import DenoiseRepHook
    DenoiseRepHook(interval=2).before_train(stand_in_runner(loop=train_loop(kind, length)))
    unit = 'epochs' if kind == 'epoch' else 'iterations'
    assert logged == ([] if unreached is None else [
        ('WARNING', f'DenoiseRepHook: with interval=2 {unit} and {length} {unit} in the run, phases {unreached} '
                    'never run')])


def test_before_train_lists_the_layers_with_frozen_stock_weights(logged):
    from mmdenoiserep.engine import DenoiseRepHook
    from mmdenoiserep import add_denoisers
    runner = stand_in_runner(add_denoisers(torch.nn.Sequential(*[torch.nn.Linear(2, 2) for _ in range(3)])),
                             loop=train_loop('epoch', 2))
    for index in (0, 2):
        runner.model[index].weight.requires_grad_(False)
    DenoiseRepHook().before_train(runner)
    assert logged == [('INFO', 'DenoiseRepHook: 2 of 3 denoising layers have frozen stock weights (e.g. '
                               'frozen_stages): the weights stay frozen, their denoisers train in the denoise phase '
                               'like all others: 0, 2')]


def test_before_train_refuses_a_model_without_denoisers_and_ddp_that_waits_for_frozen_parameters(
        process_group):
    from mmengine.model import MMDistributedDataParallel

    from mmdenoiserep.engine import DenoiseRepHook
    from mmdenoiserep.utils import InputError
    with pytest.raises(InputError) as raised:
        DenoiseRepHook().before_train(stand_in_runner(torch.nn.Linear(2, 2), train_loop('epoch', 2)))
    assert str(raised.value) == ("DenoiseRepHook: the model has no denoising layers; wrap its backbone in "
                                 "dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=...) (deploy=False)")
    ddp = MMDistributedDataParallel(two_layer_model(), find_unused_parameters=False)
    with pytest.raises(InputError) as raised:
        DenoiseRepHook().before_train(stand_in_runner(ddp, train_loop('epoch', 2)))
    assert str(raised.value) == ("DenoiseRepHook: phases ('denoise', 'finetune') freeze Parameters that DDP waits "
                                 "for; set find_unused_parameters = True in the config")
    DenoiseRepHook(phases=('joint',)).before_train(stand_in_runner(ddp, train_loop('epoch', 2)))
    DenoiseRepHook().before_train(stand_in_runner(MMDistributedDataParallel(two_layer_model(),
                                                                             find_unused_parameters=True),
                                                  train_loop('epoch', 2)))


def test_before_train_accepts_a_model_wrapper_without_find_unused_parameters(monkeypatch):
    """mmengine's MMSeparateDistributedDataParallel (GANs) wraps each submodule in its own DDP and has no
    find_unused_parameters of its own: nothing to refuse."""
    from types import SimpleNamespace

    import mmdenoiserep.engine.hook as hook_module
    from mmdenoiserep.engine import DenoiseRepHook
    wrapped = two_layer_model()
    monkeypatch.setattr(hook_module, 'is_model_wrapper', lambda model: model is wrapper)
    wrapper = SimpleNamespace(module=wrapped)
    DenoiseRepHook().before_train(stand_in_runner(wrapper, train_loop('epoch', 2)))


def test_non_finite_check_names_the_first_input_then_loss_then_task_loss_term():
    from mmdenoiserep.engine import DenoiseRepHook
    from mmdenoiserep.utils import NonFiniteError
    hook = DenoiseRepHook()
    hook._where = 'iteration 3 (epoch 1, phase joint)'
    finite, nan = torch.tensor(1.0), torch.tensor(float('nan'))
    task = {'loss_cls': finite, 'acc': [finite, torch.tensor([1.0, float('inf')])], 'note': 'text', 'empty': []}
    for inputs, layer_losses, task_losses, named in [
            ({'a': torch.tensor(True), 'b': torch.tensor(False)}, {'a': nan}, task, 'input of denoising layer b'),
            ({'a': torch.tensor(True)}, {'a': finite, 'b': nan}, task, 'noise-prediction loss of denoising layer b'),
            ({}, {'a': finite}, task, "loss term 'acc'"),
            ({}, {'a': finite}, {'loss_cls': nan, 'acc': [finite]}, "loss term 'loss_cls'")]:
        hook._input_finite = inputs
        with pytest.raises(NonFiniteError) as raised:
            hook._raise_if_not_finite(layer_losses, task_losses)
        assert str(raised.value) == (f'DenoiseRepHook: non-finite {named} at iteration 3 (epoch 1, phase joint); '
                                     'training stopped before the optimizer step (lower the learning rate, or '
                                     'check the data)')
    hook._input_finite = {'a': torch.tensor(True)}
    hook._raise_if_not_finite({'a': finite}, {'loss': finite, 'parts': [finite, finite], 'note': 'text'})
    hook._input_finite = {}
    hook._raise_if_not_finite({}, {})


@pytest.mark.parametrize('iteration, logs', [(49, True), (48, False), (99, True)])
def test_per_layer_losses_go_to_the_visualizer_and_one_line_to_the_log(iteration, logs, logged):
    from mmdenoiserep.engine import DenoiseRepHook
    hook = DenoiseRepHook(phases=('joint',))
    hook.phase = 'joint'
    runner = stand_in_runner(iteration=iteration)
    hook._last_losses = {'0': torch.tensor(0.5), '1': torch.tensor(0.25)}
    # two iterations of the window: layer 0 at 0.5 and 1.0 of zero predictor losses 2.0 and 4.0, layer 1 at par
    hook._learning.add({'0': (torch.tensor(0.5), torch.tensor(2.0)), '1': (torch.tensor(0.25), torch.tensor(0.25))},
                       iteration)
    hook._learning.add({'0': (torch.tensor(1.0), torch.tensor(4.0))}, iteration + 1)
    hook.after_train_iter(runner, 0)
    assert hook._last_losses == {}
    if logs:
        assert runner.scalars == [({'denoise/0': 0.5, 'denoise/1': 0.25, 'denoise_ratio/0': 0.25,
                                    'denoise_ratio/1': 1.0}, iteration + 1)]
        assert logged == [('INFO', 'DenoiseRepHook: denoisers learned: loss / zero predictor (1.0 = nothing '
                                   'learned) mean 0.6250, min 0.2500 (0), 1 of 2 layers below 0.99')]  # one line
        assert runner.infos == [('denoiserep_learned', (iteration + 1, 0.625))]  # window's last iteration, mean
        assert hook._learning.window == (iteration, iteration + 1) and hook._learning.close_window() == {}
    else:
        assert runner.scalars == [] and logged == [] and runner.infos == []
        assert hook._learning.close_window() == {'0': 0.25, '1': 1.0}  # the window stays open


def test_phase_changes_are_logged_and_published(logged):
    from mmdenoiserep.engine import DenoiseRepHook

    class Detector(torch.nn.Module):  # backbone holds every denoising layer, but no loss method
        def __init__(self):
            super().__init__()
            self.backbone = two_layer_model()

    hook = DenoiseRepHook(by_epoch=False, interval=2)
    hook._count_epochs = False
    for model, warning in [(two_layer_model(), 'denoising layers outside model.backbone: 0, 1'),
                           (Detector(), 'denoising layers outside model.backbone: none (the model has no loss '
                                        'method)')]:
        logged.clear()
        hook.phase = None
        runner = stand_in_runner(model)
        for iteration in range(4):
            runner.epoch, runner.iter = 1, 10 + iteration
            hook.before_train_iter(runner, iteration)
        assert runner.infos == [('denoiserep_phase', 'finetune'), ('denoiserep_phase', 'denoise')]
        assert logged == [
            ('INFO', "DenoiseRepHook: phase 'finetune' from epoch 2, iteration 11"),
            ('INFO', "DenoiseRepHook: phase 'denoise' from epoch 2, iteration 13"),
            ('WARNING', f'DenoiseRepHook: the denoise phase runs the full forward: {warning}')]
        assert hook._where == 'iteration 14 (epoch 2, phase denoise)'


def test_a_checkpoint_with_a_non_finite_value_is_not_saved():
    from mmdenoiserep.engine import DenoiseRepHook
    from mmdenoiserep.utils import NonFiniteError
    hook = DenoiseRepHook()
    hook.before_save_checkpoint(None, {'state_dict': {'w': torch.ones(2)}, 'meta': {'epoch': 2, 'iter': 7}})
    hook.before_save_checkpoint(None, {'meta': {}})
    for meta, where in [({'epoch': 2, 'iter': 7}, 'epoch 2, iteration 7'), ({}, 'epoch None, iteration None'),
                        (None, 'epoch None, iteration None')]:  # None: a checkpoint without 'meta'
        with pytest.raises(NonFiniteError) as raised:
            state_dict = {'w': torch.ones(2), 'v': torch.tensor([1.0, float('nan')])}
            hook.before_save_checkpoint(None, dict(state_dict=state_dict, **({} if meta is None else {'meta': meta})))
        assert str(raised.value) == f'DenoiseRepHook: v holds non-finite values in the checkpoint of {where}: not saved'


def test_after_run_leaves_nothing_behind_and_may_run_twice():
    from mmdenoiserep.engine import DenoiseRepHook
    hook = DenoiseRepHook()
    runner = stand_in_runner()
    model = runner.model
    stock_hooks = (dict(model._forward_pre_hooks), dict(model._forward_hooks))
    hook.before_run(runner)
    assert len(hook._handles) == 2 + 2  # the model's pre-hook and hook, one finiteness check per layer
    hook._set_backbone_only(model)  # no backbone: only a warning, nothing to undo
    model.train()(torch.randn(3, 2))
    assert all(layer.recorded_inputs for _, layer in denoising_layers(model))
    hook._last_losses = {'0': torch.tensor(1.0)}
    for _ in range(2):
        hook.after_run(runner)
        assert (hook._handles, hook._last_losses, hook._input_finite, hook._eval_cache) == ([], {}, {}, None)
        assert (dict(model._forward_pre_hooks), dict(model._forward_hooks)) == stock_hooks
        assert all(not layer._forward_pre_hooks for _, layer in denoising_layers(model))
        assert not any(layer.recorded_inputs for _, layer in denoising_layers(model))


def test_input_check_records_the_first_training_call_of_each_layer():
    from mmdenoiserep.engine import DenoiseRepHook
    hook = DenoiseRepHook()
    layer = torch.nn.Linear(2, 2)
    nan, finite = torch.tensor([float('nan'), 1.0]), torch.ones(2)
    hook._check_input('a', layer.eval(), (nan,))
    hook._check_input('b', layer.train(), (None,))
    assert hook._input_finite == {}  # eval, and inputs that are not tensors, are not checked
    hook._check_input('a', layer, (nan,))
    hook._check_input('a', layer, (finite,))  # a second call does not hide the first one's NaN
    hook._check_input('c', layer, (finite,))
    assert {name: bool(flag) for name, flag in hook._input_finite.items()} == {'a': False, 'c': True}


@pytest.mark.parametrize('positions', [1.0, 0.5])
def test_loss_denoise_is_added_to_training_loss_dicts_only(positions):
    """mode='loss' by keyword or positionally, the model in training, a dict output: ``loss_denoise`` is
    loss_weight x the sum of the layers' losses (over ``loss_positions`` of the positions); any other
    call's output is returned untouched."""
    from mmdenoiserep import denoise_loss
    from mmdenoiserep.core import discard_recorded_calls
    from mmdenoiserep.engine import DenoiseRepHook
    hook = DenoiseRepHook(loss_weight=0.5, loss_positions=positions)
    model = two_layer_model()
    x = torch.randn(3, 2)
    for args, kwargs, training, output, adds in [
            ((x,), dict(mode='loss'), True, {}, True), ((x, None, 'loss'), {}, True, {}, True),
            ((x, None), {}, True, {}, False), ((x, None, 'predict'), {}, True, {}, False),
            ((x,), dict(mode='tensor'), True, {}, False), ((x,), dict(mode='loss'), False, {}, False),
            ((x,), dict(mode='loss'), True, torch.ones(1), False)]:
        model.train(training)(x)
        torch.manual_seed(0)  # the same noise for the reference and the hook
        expected = 0.5 * denoise_loss(copy.deepcopy(model), positions=positions) if adds else None
        torch.manual_seed(0)
        result = hook._add_denoise_loss(model, args, kwargs, output)
        assert result is output
        if adds:
            torch.testing.assert_close(result['loss_denoise'], expected)
            assert float(expected.detach()) > 0
        else:
            assert not isinstance(result, dict) or 'loss_denoise' not in result
        discard_recorded_calls(model)


def test_backbone_only_warning_names_at_most_five_layers_outside_the_backbone(logged):
    from mmdenoiserep import add_denoisers
    from mmdenoiserep.engine import DenoiseRepHook
    model = add_denoisers(torch.nn.Sequential(*[torch.nn.Linear(2, 2) for _ in range(7)]))
    DenoiseRepHook()._set_backbone_only(model)
    assert logged == [('WARNING', 'DenoiseRepHook: the denoise phase runs the full forward: denoising layers outside '
                                  'model.backbone: 0, 1, 2, 3, 4')]
    assert 'loss' not in vars(model)
