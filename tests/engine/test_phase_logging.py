"""PhaseLoggingHook (issue 21, item 3): log windows that restart at each phase change, an ETA from per-phase
iteration times, one DenoiseRepHook line per log interval, and the training-curves plot at the end.

Runs: tiny mmengine runners of a toy model with two task loss terms (``loss_cls``, ``loss_l2``) and two
denoising layers in its backbone, 12 iterations in phases of 3 (denoise, finetune, denoise, finetune), every
iteration logged, a log window of 10 iterations (so that a window without the restart reaches into the previous
phase), checkpoints every 2 iterations. The expected values are recomputed from each iteration's raw loss terms
and times, recorded by a hook that runs after every other one.
"""
import json
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

from mmdenoiserep import add_denoisers
from mmdenoiserep.engine import PhaseLoggingHook, PhaseSchedule, TrainingCurves, phase_eta

MAX_ITERS, INTERVAL, WINDOW, PLOT_INTERVAL = 12, 3, 10, 2


def phase_of(iteration: int) -> str:
    """The phase of a 0-based iteration: (denoise, finetune) alternating every INTERVAL iterations."""
    return ('denoise', 'finetune')[(iteration // INTERVAL) % 2]


class TwoLossModel(BaseModel):
    """A backbone of two denoising convolutions, a Linear head, and two task loss terms."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.backbone = add_denoisers(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                                    nn.Conv2d(8, 8, 3, padding=1)))
        self.head = nn.Linear(8, 5)

    def loss(self, inputs, data_samples):
        logits = self.head(self.backbone(inputs).mean(dim=(2, 3)))
        return dict(loss_cls=F.cross_entropy(logits, data_samples), loss_l2=0.1 * logits.pow(2).mean())

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        return self.head(self.backbone(inputs).mean(dim=(2, 3)))


def dataset():
    generator = torch.Generator().manual_seed(0)
    return [dict(inputs=torch.randn(3, 8, 8, generator=generator), data_samples=torch.tensor(index % 5))
            for index in range(8)]


class Record(Hook):
    """Each iteration's phase, raw loss terms, time and the ETA the log line showed (after every other hook)."""

    priority = 'LOWEST'

    def __init__(self):
        self.iterations = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        hub = runner.message_hub
        self.iterations.append(dict(phase=hub.get_info('denoiserep_phase'), eta=hub.get_info('eta'),
                                    time=hub.get_scalar('train/time').current(),
                                    losses={key: value.item() for key, value in outputs.items()}))


def train(work_dir: Path, resume_from: str = None, phase_logging: bool = True) -> Runner:
    record = Record()
    hooks = [dict(type='mmdenoiserep.DenoiseRepHook', interval=INTERVAL, log_interval=1),
             dict(type='mmdenoiserep.ReseedHook'), record]
    if phase_logging:
        hooks.insert(1, dict(type='mmdenoiserep.PhaseLoggingHook', plot_interval=PLOT_INTERVAL))
    runner = Runner(
        model=TwoLossModel(), work_dir=str(work_dir), experiment_name=f'phase_logging_{work_dir.name}',
        train_dataloader=dict(dataset=dataset(), sampler=dict(type='DefaultSampler', shuffle=False), batch_size=2,
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=MAX_ITERS),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
        log_processor=dict(by_epoch=False, window_size=WINDOW), custom_hooks=hooks, randomness=dict(seed=0),
        resume=resume_from is not None, load_from=resume_from)
    runner.train()
    runner.record = record
    return runner


def logged(runner) -> dict:
    """{step: the scalars of that step's log line} from the visualizer's scalars.json."""
    lines = Path(runner.log_dir, 'vis_data', 'scalars.json').read_text().splitlines()
    steps = {}
    for line in lines:
        scalars = json.loads(line)
        steps.setdefault(scalars['step'], {}).update(scalars)
    return steps


def losses_shown(scalars: dict) -> dict:
    return {key: value for key, value in scalars.items() if 'loss' in key}


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    return train(tmp_path_factory.mktemp('run'))


def test_the_toy_run_has_the_phases_it_is_read_with(run):
    assert [record['phase'] for record in run.record.iterations] == [phase_of(i) for i in range(MAX_ITERS)]


def test_each_log_line_averages_the_running_phase_only(run):
    """Each logged term is the mean of its raw values over the last WINDOW iterations of the running phase;
    the denoise phase shows no task term, the finetune phase a loss_denoise of 0, and loss is their sum."""
    records, steps = run.record.iterations, logged(run)
    assert sorted(steps) == list(range(1, MAX_ITERS + 1))
    for step in range(1, MAX_ITERS + 1):
        phase_start = (step - 1) // INTERVAL * INTERVAL + 1
        window = records[max(phase_start, step - WINDOW + 1) - 1:step]
        expected = {key: sum(record['losses'][key] for record in window) / len(window)
                    for key in records[step - 1]['losses']}
        shown = losses_shown(steps[step])
        assert shown == pytest.approx(expected, rel=1e-9, abs=1e-12), step
        if phase_of(step - 1) == 'denoise':
            assert set(shown) == {'loss', 'loss_denoise'}, step
        else:
            assert set(shown) == {'loss', 'loss_denoise', 'loss_cls', 'loss_l2'} and shown['loss_denoise'] == 0, step
        assert shown['loss'] == pytest.approx(sum(value for key, value in shown.items() if key != 'loss'),
                                              rel=1e-6), step  # float32 sums


def test_eta_is_the_phase_mix_of_the_iterations_left(run):
    """At each iteration: sum over the iterations left of their phase's mean time so far (a phase not timed
    yet: the mean of all timed iterations), from the recorded times."""
    records = run.record.iterations
    for index, record in enumerate(records):
        done = records[:index + 1]
        overall = sum(r['time'] for r in done) / len(done)
        means = {phase: [r['time'] for r in done if r['phase'] == phase] for phase in ('denoise', 'finetune')}
        expected = sum(sum(means[phase_of(i)]) / len(means[phase_of(i)]) if means[phase_of(i)] else overall
                       for i in range(index + 1, MAX_ITERS))
        assert record['eta'] == pytest.approx(expected, rel=1e-9, abs=1e-12), index


def test_phase_eta_on_synthetic_times():
    seconds = {'denoise': (2.0, 4), 'finetune': (30.0, 10)}  # 0.5 s and 3 s per iteration
    assert phase_eta(seconds, {'denoise': 7, 'finetune': 5}) == pytest.approx(7 * 0.5 + 5 * 3.0)
    assert phase_eta({'denoise': (2.0, 4)}, {'denoise': 3, 'finetune': 5}) == pytest.approx(8 * 0.5)  # not timed
    assert phase_eta({'denoise': (1.0, 2), 'finetune': (9.0, 3)}, {'joint': 4}) == pytest.approx(4 * 10.0 / 5)
    assert phase_eta({'denoise': (1.0, 2), 'joint': (0.0, 0)}, {'joint': 3}) == pytest.approx(3 * 0.5)
    assert phase_eta({}, {'denoise': 3}) == 0.0 and phase_eta(seconds, {}) == 0.0


def test_phase_schedule_counts_the_iterations_left_of_each_phase():
    phases = ['denoise'] * 3 + ['finetune'] * 2 + ['joint'] + ['denoise'] * 4 + [None]
    schedule = PhaseSchedule(phases)
    for first in range(len(phases) + 2):
        assert schedule.left(first) == dict(Counter(phases[first:])), first
    assert PhaseSchedule([]).left(0) == {}


def test_training_curves_are_bin_means_that_never_straddle_a_phase(run):
    records, curves = run.record.iterations, run.message_hub.get_info('denoiserep_curves')
    bins = []
    for iteration, record in enumerate(records, start=1):
        if bins and bins[-1][-1][1]['phase'] == record['phase'] and (iteration - 1) % PLOT_INTERVAL:
            bins[-1].append((iteration, record))
        else:
            bins.append([(iteration, record)])
    assert len(curves['rows']) == len(bins) == 8
    for (first, last, phase, means), members in zip(curves['rows'], bins):
        assert (first, last, phase) == (members[0][0], members[-1][0], members[0][1]['phase'])
        expected = {key: sum(record['losses'][key] for _, record in members) / len(members)
                    for key in members[0][1]['losses'] if 'loss' in key}
        assert means == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # the learned fraction: DenoiseRepHook's mean over layers of the ratios it logged, once per denoise iteration
    ratios = {step: [value for key, value in scalars.items() if key.startswith('denoise_ratio/')]
              for step, scalars in logged(run).items()}
    expected = [(step, sum(values) / len(values)) for step, values in sorted(ratios.items()) if values]
    assert [step for step, _ in expected] == [1, 2, 3, 7, 8, 9]
    assert [step for step, _ in curves['learned']] == [step for step, _ in expected]
    assert [mean for _, mean in curves['learned']] == pytest.approx([mean for _, mean in expected], rel=1e-9)


def test_the_plot_is_a_png_beside_the_scalars(run):
    from PIL import Image
    path = Path(run.log_dir, 'vis_data', 'training_curves.png')
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.size == (1000, 650)
    assert not list(path.parent.glob('.training_curves.png.*'))  # no temporary file left
    assert f'PhaseLoggingHook: training curves by phase in {path}' in Path(run.log_dir, f'{run.timestamp}.log') \
        .read_text()


def test_denoiserep_hook_logs_one_summary_line_per_log_interval(run):
    lines = [line for line in Path(run.log_dir, f'{run.timestamp}.log').read_text().splitlines()
             if 'DenoiseRepHook: ' in line and "DenoiseRepHook: phase '" not in line]  # but phase changes
    per_interval = [line for line in lines if 'denoisers learned: loss / zero predictor' in line]
    assert len(per_interval) == 6  # one per logged denoise iteration (log_interval=1)
    table = [line for line in lines if 'denoisers learned, iterations' in line]
    assert len(lines) == len(per_interval) + len(table) == 7  # nothing per layer
    assert not any('per-layer' in line for line in lines)


def test_denoiserep_hook_publishes_its_closing_window_for_the_plot(tmp_path):
    """after_train publishes the last window: (its iteration, the mean over layers of loss / zero predictor's)."""
    from mmdenoiserep import denoising_layers
    from mmdenoiserep.engine import DenoiseRepHook
    model = TwoLossModel().train()
    with torch.no_grad():  # a zero denoiser's loss is the zero predictor's: every ratio would be 1
        for _, layer in denoising_layers(model):
            layer.denoiser.weight.normal_(std=0.1)
    hook = DenoiseRepHook(phases=('denoise',), by_epoch=False)
    runner = SimpleNamespace(model=model, epoch=0, iter=6,
                             message_hub=MessageHub.get_instance(f'phase_logging_{tmp_path.name}'))
    hook.before_run(runner)
    hook.before_train_iter(runner, 0)
    model(torch.randn(2, 3, 8, 8), torch.tensor([0, 1]), mode='loss')
    ratios = [float(hook.layer_losses[name] / layer.zero_predictor_loss) for name, layer in denoising_layers(model)]
    assert len(ratios) == 2 and all(ratio != pytest.approx(1.0) for ratio in ratios)
    hook.after_train(runner)
    assert runner.message_hub.get_info('denoiserep_learned') == (7, pytest.approx(sum(ratios) / 2))


@pytest.mark.parametrize('checkpoint', [6, 8])  # at a phase boundary, inside the second denoise phase
def test_a_resumed_run_logs_and_plots_as_the_uninterrupted_one(run, tmp_path, checkpoint):
    resumed = train(tmp_path / f'resumed_{checkpoint}', resume_from=str(Path(run.work_dir, f'iter_{checkpoint}.pth')))
    reference, steps = logged(run), logged(resumed)
    assert sorted(steps) == list(range(checkpoint + 1, MAX_ITERS + 1))
    for step in steps:
        assert losses_shown(steps[step]) == pytest.approx(losses_shown(reference[step]), rel=1e-6), step
    expected, actual = (r.message_hub.get_info('denoiserep_curves') for r in (run, resumed))
    assert [row[:3] for row in actual['rows']] == [row[:3] for row in expected['rows']]
    for row, reference_row in zip(actual['rows'], expected['rows']):
        assert row[3] == pytest.approx(reference_row[3], rel=1e-6)
    assert [step for step, _ in actual['learned']] == [step for step, _ in expected['learned']]
    assert [mean for _, mean in actual['learned']] == pytest.approx([mean for _, mean in expected['learned']],
                                                                    rel=1e-6)
    log = Path(resumed.log_dir, f'{resumed.timestamp}.log').read_text()
    assert 'resumed key' not in log  # no removed buffer left among the keys to resume


def test_without_the_hook_the_log_mixes_the_phases(tmp_path):
    """The failure the hook fixes, shown on the same run: the first finetune line still averages the denoise
    phase's loss_denoise, and loss is not the sum of the terms shown."""
    steps = logged(train(tmp_path, phase_logging=False))
    shown = losses_shown(steps[INTERVAL + 1])
    assert shown['loss_denoise'] > 0
    assert shown['loss'] != pytest.approx(shown['loss_denoise'] + shown['loss_cls'] + shown['loss_l2'], rel=1e-3)
    assert 'loss_cls' in steps[2 * INTERVAL + 1]  # a stale task term in the second denoise phase


def test_plot_without_matplotlib_is_one_line(tmp_path, monkeypatch):
    import mmdenoiserep.engine.phase_logging as phase_logging
    messages = []
    monkeypatch.setattr(phase_logging, 'print_log', lambda message, logger=None, level=None: messages.append(message))
    monkeypatch.setitem(sys.modules, 'matplotlib.figure', None)  # import fails
    hook = PhaseLoggingHook()
    runner = SimpleNamespace(message_hub=MessageHub.get_instance(f'phase_logging_{tmp_path.name}'),
                             log_dir=str(tmp_path), hooks=[])
    hook.before_train(runner)
    hook.curves.add(1, 'denoise', {'loss': 1.0})
    runner.message_hub.update_info('denoiserep_learned', (1, 0.9))  # DenoiseRepHook's closing window
    hook.after_run(runner)
    assert hook.curves.rows == [(1, 1, 'denoise', {'loss': 1.0})] and hook.curves.learned == [(1, 0.9)]
    assert messages == ['PhaseLoggingHook: no training-curves plot: matplotlib is not installed (pip install '
                        'matplotlib)']
    assert not list(tmp_path.rglob('*.png'))


def test_plot_is_skipped_when_asked_or_without_training(tmp_path):
    runner = SimpleNamespace(message_hub=MessageHub.get_instance(f'phase_logging_{tmp_path.name}'),
                             log_dir=str(tmp_path), hooks=[])
    PhaseLoggingHook().after_run(runner)  # test or val only: no before_train
    hook = PhaseLoggingHook(plot=False)
    hook.before_train(runner)
    hook.curves.add(1, 'denoise', {'loss': 1.0})
    hook.after_run(runner)
    assert not list(tmp_path.rglob('*.png'))


@pytest.mark.parametrize('value', [0, -1, 1.5, True, '2'])
def test_plot_interval_must_be_a_positive_int(value):
    with pytest.raises(ValueError) as raised:
        PhaseLoggingHook(plot_interval=value)
    assert str(raised.value) == f'plot_interval must be None or a positive int, got {value!r}'


def test_training_curves_close_bins_at_multiples_of_the_interval_and_at_phase_changes():
    curves = TrainingCurves(interval=4)
    for iteration, phase in enumerate(['denoise'] * 6 + ['finetune'] * 3, start=1):
        curves.add(iteration, phase, {'loss': float(iteration), **({'loss_cls': 1.0} if phase == 'finetune' else {})})
    curves.close()
    assert curves.rows == [(1, 4, 'denoise', {'loss': 2.5}), (5, 6, 'denoise', {'loss': 5.5}),
                           (7, 8, 'finetune', {'loss': 7.5, 'loss_cls': 1.0}),
                           (9, 9, 'finetune', {'loss': 9.0, 'loss_cls': 1.0})]
    curves.add_learned(3, 0.9)
    curves.add_learned(3, 0.8)  # the same window published again
    curves.add_learned(5, 0.7)
    assert curves.learned == [(3, 0.9), (5, 0.7)]


@pytest.mark.parametrize('plot_interval, hooks, expected', [(None, [], 50), (None, 'logger', 7), (3, 'logger', 3)])
def test_plot_interval_defaults_to_the_logger_hooks(tmp_path, plot_interval, hooks, expected):
    from mmengine.hooks import LoggerHook
    runner = SimpleNamespace(message_hub=MessageHub.get_instance(f'phase_logging_{tmp_path.name}'),
                             hooks=[LoggerHook(interval=7)] if hooks == 'logger' else hooks)
    hook = PhaseLoggingHook(plot_interval=plot_interval)
    hook.before_train(runner)
    assert hook.curves.interval == expected


@pytest.mark.parametrize('denoiserep, expected', [
    # 3 iterations per epoch, phases of 2 epochs: iterations 0-5 denoise, 6-11 finetune
    (dict(interval=2, by_epoch=True), {0: {'denoise': 6, 'finetune': 6}, 4: {'denoise': 2, 'finetune': 6},
                                       7: {'finetune': 5}, 12: {}}),
    # phases of 2 iterations inside the epoch loop
    (dict(interval=2, by_epoch=False), {0: {'denoise': 6, 'finetune': 6}, 3: {'denoise': 4, 'finetune': 5},
                                        11: {'finetune': 1}}),
    (None, {0: {None: 12}, 5: {None: 7}})])  # no DenoiseRepHook: one phase
def test_the_eta_schedule_is_the_denoiserep_hooks(denoiserep, expected):
    from mmdenoiserep.engine import DenoiseRepHook
    hooks = []
    if denoiserep is not None:
        hooks.append(DenoiseRepHook(**denoiserep))
    runner = SimpleNamespace(hooks=hooks, max_iters=12, train_dataloader=range(3))
    schedule = PhaseLoggingHook.phase_schedule(runner)
    assert {first: schedule.left(first) for first in expected} == expected
