"""DenoiseRepHook in real mmengine runs on the tiny data: loss key, phases, frozen statistics, resume."""
import copy

import pytest
import torch
from mmengine.hooks import Hook
from runner_helpers import RESNET18, LossRecord, Snapshots, changed, tiny_cfg

from mmdenoiserep import denoising_layers, fuse_denoisers
from mmdenoiserep.core.phases import backbone_only_blocker, is_backbone_only, set_backbone_only
from mmdenoiserep.models import strip_denoiserep
from mmdenoiserep.apis import build_runner
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
    deploy = tiny_cfg('configs/resnet50_denoiserep_in1k.py', runner.work_dir, *RESNET18)
    deploy.model = strip_denoiserep(deploy.model)
    stock = build_runner(deploy).model
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
    assert not is_backbone_only(model) and 'loss' not in vars(model)  # the denoise phase's backbone-only loss
    layers = denoising_layers(model)
    # the validation scope restored the default (reuse W' in eval); W' kept now comes from a later eval forward
    assert layers and all(layer.reuse_fused_weights for _, layer in layers)


# Unit tests of DenoiseRepHook and NonFiniteCheckHook with stand-in runners: each message, argument and
# branch exactly.

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
    max_epochs, max_iters = (length, length * 10) if kind == 'epoch' else (1, length)
    return type('StandInLoop', (EpochBasedTrainLoop if kind == 'epoch' else IterBasedTrainLoop,),
                dict(__init__=lambda self: None, max_epochs=max_epochs, max_iters=max_iters))()


class LossModel(torch.nn.Module):
    """An mmengine-style model: ``forward(inputs, data_samples=None, mode='tensor')``, its two denoising
    Linear layers in ``backbone``; ``loss`` returns ``terms(features)`` (``views=2``: the backbone runs on
    the inputs, then on zeros)."""

    def __init__(self, terms=lambda feats: {'loss': feats.sum()}, views=1):
        super().__init__()
        self.backbone, self.terms, self.views = two_layer_model(), terms, views

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.loss(inputs, data_samples) if mode == 'loss' else self.backbone(inputs)

    def loss(self, inputs, data_samples=None):
        feats = self.backbone(inputs)
        if self.views == 2:
            self.backbone(torch.zeros_like(inputs))
        return self.terms(feats)


def stand_in_runner(model=None, loop=None, epoch=0, iteration=0, hooks=()):
    from types import SimpleNamespace
    scalars, infos = [], []
    return SimpleNamespace(
        model=two_layer_model() if model is None else model, train_loop=loop, epoch=epoch, iter=iteration,
        visualizer=SimpleNamespace(add_scalars=lambda values, step: scalars.append((values, step))),
        message_hub=SimpleNamespace(update_info=lambda key, value: infos.append((key, value))),
        scalars=scalars, infos=infos, hooks=list(hooks))


def started(runner):
    """``runner`` after its hooks' before_run and before_train_iter (the model in the hooks' phase)."""
    for stage in ('before_run', 'before_train_iter'):
        for hook in runner.hooks:
            getattr(hook, stage)(runner, *([0] if stage == 'before_train_iter' else []))
    return runner


def test_hook_defaults_are_the_documented_ones():
    from mmdenoiserep.engine import DenoiseRepHook
    hook = DenoiseRepHook()
    assert (hook.loss_weight, hook.phases, hook.interval, hook.by_epoch, hook.log_interval, hook.loss_positions,
            hook.backbone_only, hook.offset, hook.phase, hook.layer_losses) == (
                0.1, ('denoise', 'finetune'), 1, None, 50, 1.0, True, 0, None, {})
    assert DenoiseRepHook.priority == 'NORMAL'
    hook = DenoiseRepHook(loss_weight=1, phases='joint', loss_positions=1, backbone_only=0)
    assert (hook.phases, hook.loss_positions, hook.backbone_only) == (('joint',), 1.0, False)
    assert type(hook.loss_weight) is float and type(hook.loss_positions) is float
    with pytest.raises(TypeError):
        DenoiseRepHook(check_finite=True)  # NonFiniteCheckHook's job now


def test_non_finite_check_hook_defaults_and_registration():
    from mmengine.registry import HOOKS

    from mmdenoiserep.engine import NonFiniteCheckHook
    assert NonFiniteCheckHook().every_iteration is True and NonFiniteCheckHook.priority == 'NORMAL'
    assert type(HOOKS.build(dict(type='mmdenoiserep.NonFiniteCheckHook'))) is NonFiniteCheckHook
    assert HOOKS.build(dict(type='mmdenoiserep.NonFiniteCheckHook', every_iteration=False)).every_iteration is False
    with pytest.raises(TypeError, match=r"^every_iteration must be a bool, got 1$"):
        NonFiniteCheckHook(every_iteration=1)


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
    from types import SimpleNamespace

    from mmdenoiserep.engine import DenoiseRepHook
    loop = SimpleNamespace(max_epochs=4, max_iters=40) if kind == 'other' else train_loop(kind, 4)
    hook = DenoiseRepHook(by_epoch=by_epoch)
    hook.before_train(stand_in_runner(loop=loop))
    # interval 1: epoch 1, iteration 0 is the second phase when the hook counts epochs, the first if not
    assert hook.phase_at(1, 0) == ('finetune' if counts_epochs else 'denoise')
    assert hook.phase_at(0, 1) == ('denoise' if counts_epochs else 'finetune')


@pytest.mark.parametrize('by_epoch, loop, message', [
    (None, object(), 'DenoiseRepHook: cannot tell whether object counts epochs; set by_epoch=True or False in the '
                     'hook config'),
    (True, 'iteration', 'DenoiseRepHook: by_epoch=True under an IterBasedTrainLoop (a single epoch) never changes '
                        'phase; set by_epoch=False (interval in iterations) or leave it unset')])
def test_hook_refuses_a_loop_it_cannot_count(by_epoch, loop, message):
    from mmdenoiserep.engine import DenoiseRepHook
    from mmdenoiserep.utils import InputError
    with pytest.raises(InputError) as raised:
        DenoiseRepHook(by_epoch=by_epoch).before_train(
            stand_in_runner(loop=train_loop(loop, 4) if isinstance(loop, str) else loop))
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
                                 "dict(type='mmdenoiserep.DenoiseRepBackbone', backbone=...)")
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


def nan_at(parameter, index=0):
    with torch.no_grad():
        parameter.view(-1)[index] = float('nan')


def inf_at(parameter, index=0):
    with torch.no_grad():
        parameter.view(-1)[index] = float('inf')


FINITE, NAN = torch.tensor(1.0), torch.tensor(float('nan'))
TASK = {'loss_cls': FINITE, 'acc': [FINITE, torch.tensor([1.0, float('inf')])], 'note': 'text', 'empty': []}


@pytest.mark.parametrize('poison, terms, views, named', [
    (lambda m: nan_at(m.backbone[0].weight), None, 1, 'input of denoising layer backbone.1'),  # its loss too
    (lambda m: inf_at(m.backbone[1].denoiser.weight), None, 1, 'noise-prediction loss of denoising layer backbone.1'),
    (None, lambda feats: dict(TASK), 1, "loss term 'acc'"),
    (None, lambda feats: {'loss_cls': NAN, 'acc': [FINITE]}, 1, "loss term 'loss_cls'"),
    ('nan inputs', None, 2, 'input of denoising layer backbone.0'),  # a second, finite call does not hide it
])
def test_non_finite_check_names_the_first_input_then_loss_then_task_loss_term(poison, terms, views, named):
    from mmdenoiserep.engine import DenoiseRepHook, NonFiniteCheckHook
    from mmdenoiserep.utils import NonFiniteError
    model = LossModel(views=views, **({} if terms is None else dict(terms=terms)))
    inputs = torch.ones(3, 2)
    if poison == 'nan inputs':
        inputs[0, 0] = float('nan')
    elif poison is not None:
        poison(model)
    started(stand_in_runner(model, iteration=2, hooks=[DenoiseRepHook(phases=('joint',)), NonFiniteCheckHook()]))
    with pytest.raises(NonFiniteError) as raised:
        model(inputs, mode='loss')
    assert str(raised.value) == (f'NonFiniteCheckHook: non-finite {named} at iteration 3 (epoch 1, phase joint); '
                                 'training stopped before the optimizer step (lower the learning rate, or '
                                 'check the data)')
    model.eval()(inputs, mode='loss')  # not a training forward: not checked
    model.train()(inputs, None, 'tensor')


@pytest.mark.parametrize('with_denoiserep', [True, False])
def test_non_finite_check_passes_finite_values_and_works_without_denoiserep_hook(with_denoiserep):
    from mmdenoiserep.engine import DenoiseRepHook, NonFiniteCheckHook
    from mmdenoiserep.utils import NonFiniteError
    model = LossModel(terms=lambda feats: {'loss': feats.sum(), 'parts': [FINITE, FINITE], 'note': 'text'})
    hooks = [DenoiseRepHook(phases=('joint',))] if with_denoiserep else []
    started(stand_in_runner(model, epoch=1, iteration=6, hooks=hooks + [NonFiniteCheckHook()]))
    assert set(model.train()(torch.ones(3, 2), mode='loss')) == {'loss', 'parts', 'note'} | (
        {'loss_denoise'} if with_denoiserep else set())
    model.terms = lambda feats: {'loss': feats.sum() * float('inf')}
    with pytest.raises(NonFiniteError, match=r"^NonFiniteCheckHook: non-finite loss term 'loss' at iteration 7 "
                                             rf"\(epoch 2{', phase joint' if with_denoiserep else ''}\); "):
        model(torch.ones(3, 2), mode='loss')


def test_non_finite_check_every_iteration_false_checks_only_checkpoints():
    from mmdenoiserep.engine import NonFiniteCheckHook
    from mmdenoiserep.utils import NonFiniteError
    model = LossModel()
    nan_at(model.backbone[0].weight)
    hook = NonFiniteCheckHook(every_iteration=False)
    started(stand_in_runner(model, hooks=[hook]))
    model.train()(torch.ones(3, 2), mode='loss')  # not checked
    with pytest.raises(NonFiniteError, match='holds non-finite values in the checkpoint'):
        hook.before_save_checkpoint(None, {'state_dict': model.state_dict(), 'meta': {}})


def test_per_layer_losses_and_ratios_go_to_the_visualizer_and_one_line_to_the_log(logged):
    """Two training iterations (1-based 49 and 50) of one log window (log_interval 50): the visualizer gets the
    last iteration's per-layer losses and each layer's loss / zero predictor's loss summed over the window."""
    from mmdenoiserep.engine import DenoiseRepHook, LearnedFraction
    model = LossModel()
    with torch.no_grad():
        for _, layer in denoising_layers(model):
            layer.denoiser.weight.normal_(std=0.3)  # a denoiser that is not the zero one
    hook = DenoiseRepHook(phases=('joint',))
    runner = stand_in_runner(model, hooks=[hook])
    hook.before_run(runner)
    sums = {}
    for iteration in (48, 49):
        runner.iter = iteration
        hook.before_train_iter(runner, 0)
        model(torch.randn(4, 2), mode='loss')
        losses = dict(hook.layer_losses)
        assert set(losses) == {'backbone.0', 'backbone.1'}
        for name, layer in denoising_layers(model):
            loss, zero = sums.get(name, (0.0, 0.0))
            sums[name] = (loss + losses[name].item(), zero + layer.zero_predictor_loss.item())
        hook.after_train_iter(runner, 0)
        assert hook.layer_losses == {}
        if iteration == 48:
            assert runner.scalars == [] and logged == [("INFO", "DenoiseRepHook: phase 'joint' from epoch 1, "
                                                                "iteration 49")]  # the window stays open
    ((scalars, step),) = runner.scalars
    ratios = {name: loss / zero for name, (loss, zero) in sums.items()}
    assert step == 50 and scalars == pytest.approx(
        {**{f'denoise/{name}': value.item() for name, value in losses.items()},
         **{f'denoise_ratio/{name}': value for name, value in ratios.items()}}, rel=1e-5)
    window = {name: scalars[f'denoise_ratio/{name}'] for name in ratios}
    assert logged[1:] == [('INFO', f'DenoiseRepHook: {LearnedFraction.summary(window)}')]  # one line
    assert runner.infos == [('denoiserep_phase', 'joint'), ('denoiserep_learned', (50, LearnedFraction.mean(window)))]


def test_phase_changes_are_logged_and_published(logged):
    from mmdenoiserep.engine import DenoiseRepHook

    class Detector(torch.nn.Module):  # backbone holds every denoising layer, but no loss method
        def __init__(self):
            super().__init__()
            self.backbone = two_layer_model()

    hook = DenoiseRepHook(by_epoch=False, interval=2)
    for model, warning in [(two_layer_model(), 'denoising layers outside model.backbone: 0, 1'),
                           (Detector(), 'denoising layers outside model.backbone: none (the model has no loss '
                                        'method)')]:
        logged.clear()
        hook.phase = None
        runner = stand_in_runner(model)
        for iteration in range(4):
            runner.epoch, runner.iter = 1, 10 + iteration
            hook.before_train_iter(runner, iteration)
            assert {layer.phase for _, layer in denoising_layers(model)} == {hook.phase}
        assert runner.infos == [('denoiserep_phase', 'finetune'), ('denoiserep_phase', 'denoise')]
        assert logged == [
            ('INFO', "DenoiseRepHook: phase 'finetune' from epoch 2, iteration 11"),
            ('INFO', "DenoiseRepHook: phase 'denoise' from epoch 2, iteration 13"),
            ('WARNING', f'DenoiseRepHook: the denoise phase runs the full forward: {warning}')]
        assert not is_backbone_only(model)


def test_the_denoise_phase_runs_the_backbone_only_and_the_other_phases_the_full_loss():
    from mmdenoiserep.engine import DenoiseRepHook
    for backbone_only in (True, False):
        model = LossModel()
        hook = DenoiseRepHook(by_epoch=False, backbone_only=backbone_only)
        runner = stand_in_runner(model, hooks=[hook])
        hook.before_run(runner)
        for iteration, phase in enumerate(['denoise', 'finetune', 'denoise']):
            runner.iter = iteration
            hook.before_train_iter(runner, iteration)
            assert is_backbone_only(model) == (backbone_only and phase == 'denoise')
            losses = model(torch.ones(3, 2), mode='loss')
            task = {'loss'} if phase == 'finetune' or not backbone_only else set()
            assert set(losses) == task | {'loss_denoise'}, (backbone_only, phase)
            hook.after_train_iter(runner, iteration)
        hook.after_run(runner)
        assert not is_backbone_only(model)


def test_a_checkpoint_with_a_non_finite_value_is_not_saved():
    from mmdenoiserep.engine import NonFiniteCheckHook
    from mmdenoiserep.utils import NonFiniteError
    hook = NonFiniteCheckHook()
    hook.before_save_checkpoint(None, {'state_dict': {'w': torch.ones(2)}, 'meta': {'epoch': 2, 'iter': 7}})
    hook.before_save_checkpoint(None, {'meta': {}})
    for meta, where in [({'epoch': 2, 'iter': 7}, 'epoch 2, iteration 7'), ({}, 'epoch None, iteration None'),
                        (None, 'epoch None, iteration None')]:  # None: a checkpoint without 'meta'
        with pytest.raises(NonFiniteError) as raised:
            state_dict = {'w': torch.ones(2), 'v': torch.tensor([1.0, float('nan')])}
            hook.before_save_checkpoint(None, dict(state_dict=state_dict, **({} if meta is None else {'meta': meta})))
        assert str(raised.value) == (f'NonFiniteCheckHook: v holds non-finite values in the checkpoint of {where}: '
                                     'not saved')


def test_after_run_leaves_nothing_behind_and_may_run_twice():
    from mmdenoiserep.engine import DenoiseRepHook, NonFiniteCheckHook
    model = LossModel()
    layers = [layer for _, layer in denoising_layers(model)]
    for layer in layers:
        layer.reuse_fused_weights = False  # the user's opt-out, restored after the eval cache
    denoiserep, check = DenoiseRepHook(), NonFiniteCheckHook()
    runner = started(stand_in_runner(model, loop=train_loop('epoch', 2), hooks=[denoiserep, check]))
    assert is_backbone_only(model)  # the denoise phase
    assert set(model(torch.ones(3, 2), mode='loss')) == {'loss_denoise'}
    model(torch.ones(3, 2))  # not a loss forward: its calls stay recorded
    assert denoiserep.layer_losses and all(layer.recorded_inputs for layer in layers)
    denoiserep.before_val_epoch(runner)
    assert all(layer.reuse_fused_weights for layer in layers)  # the eval cache is open
    for _ in range(2):
        for hook in (denoiserep, check):
            hook.after_run(runner)
        assert not is_backbone_only(model) and denoiserep.layer_losses == {}
        assert not any(layer.recorded_inputs or layer.reuse_fused_weights for layer in layers)
    nan_at(model.backbone[0].weight)
    assert set(model.train()(torch.ones(3, 2), mode='loss')) == {'loss'}  # no loss added, nothing checked


@pytest.mark.parametrize('positions', [1.0, 0.5])
def test_loss_denoise_is_added_to_training_loss_dicts_only(positions):
    """mode='loss' by keyword or positionally, the model in training, a dict output: ``loss_denoise`` is
    loss_weight x the sum of the layers' losses (over ``loss_positions`` of the positions); any other
    call's output is returned untouched."""
    from mmdenoiserep import denoise_loss
    from mmdenoiserep.engine import DenoiseRepHook

    class Returns(torch.nn.Module):  # forward(inputs, data_samples=None, mode='tensor') returning ``output``
        def __init__(self):
            super().__init__()
            self.backbone, self.output = two_layer_model(), {}

        def forward(self, inputs, data_samples=None, mode='tensor'):
            self.backbone(inputs)
            return dict(self.output) if isinstance(self.output, dict) else self.output

    model = Returns()
    reference = copy.deepcopy(model)
    hook = DenoiseRepHook(loss_weight=0.5, loss_positions=positions)
    hook.before_run(stand_in_runner(model))
    x = torch.randn(3, 2)
    for args, kwargs, training, output, adds in [
            ((x,), dict(mode='loss'), True, {}, True), ((x, None, 'loss'), {}, True, {}, True),
            ((x, None), {}, True, {}, False), ((x, None, 'predict'), {}, True, {}, False),
            ((x,), dict(mode='tensor'), True, {}, False), ((x,), dict(mode='loss'), False, {}, False),
            ((x,), dict(mode='loss'), True, torch.ones(1), False)]:
        model.output = output
        if adds:
            reference.train(training)(x)
            torch.manual_seed(0)  # the same noise for the reference and the hook
            expected = 0.5 * denoise_loss(reference, positions=positions)
        torch.manual_seed(0)
        result = model.train(training)(*args, **kwargs)
        if adds:
            assert set(result) == {'loss_denoise'}
            torch.testing.assert_close(result['loss_denoise'], expected)
            assert float(expected.detach()) > 0
        else:
            assert result is output if not isinstance(output, dict) else result == output


def test_backbone_only_names_at_most_five_layers_outside_the_backbone():
    from mmdenoiserep import add_denoisers
    model = add_denoisers(torch.nn.Sequential(*[torch.nn.Linear(2, 2) for _ in range(7)]))
    reason = 'denoising layers outside model.backbone: 0, 1, 2, 3, 4'
    assert backbone_only_blocker(model) == reason
    with pytest.raises(ValueError) as raised:
        set_backbone_only(model, True)
    assert str(raised.value) == f'the model cannot run the backbone only: {reason}'
    assert not is_backbone_only(model) and 'loss' not in vars(model)
