"""What the runner-level tests share: tiny configs of the project's configs and recording hooks."""
import numpy as np
import torch
from config_helpers import load
from mmengine.hooks import Hook

from mmdenoiserep import denoiser_parameters, denoising_layers

CLASSIFIER = 'configs/resnet50_denoiserep_in1k.py'
RESNET18 = ['model.backbone.backbone.depth=18', 'model.head.in_channels=512',
            'model.backbone.example_input_shape=[1,3,64,64]']


def tiny_cfg(config, work_dir, *options, launcher='none'):
    cfg = load(config, *options, work_dir=work_dir, launcher=launcher)
    cfg.default_hooks.logger.interval = 1
    return cfg


def classifier_cfg(work_dir, *options, images=10, launcher='none'):
    """The ResNet-18 classifier with DenoiseRep on ``images`` tiny ImageNet images, no validation."""
    cfg = tiny_cfg(CLASSIFIER, work_dir, *RESNET18, *options, launcher=launcher)
    cfg.train_dataloader.dataset.indices = images
    cfg.train_cfg.val_begin = 10 ** 6
    return cfg


class Snapshots(Hook):
    """Copies of the base state (parameters and buffers) and the denoisers at every epoch boundary."""

    priority = 'LOWEST'

    def __init__(self):
        self.states = []

    def snapshot(self, runner):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        denoisers = {id(p) for p in denoiser_parameters(model)}
        base = {n: t.detach().clone() for n, t in model.state_dict().items() if '.denoiser.' not in n}
        den = {n: p.detach().clone() for n, p in model.named_parameters() if id(p) in denoisers}
        self.states.append((base, den))

    def before_train_epoch(self, runner):
        self.snapshot(runner)

    def after_train(self, runner):
        self.snapshot(runner)


class IterationRecord(Hook):
    """What each training iteration runs with, read after every other hook's before_train_iter."""

    priority = 'LOWEST'

    def __init__(self):
        self.iterations = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        layers = denoising_layers(model)
        self.iterations.append(dict(
            phase=runner.message_hub.get_info('denoiserep_phase'),
            layer_phases={layer.phase for _, layer in layers},
            layers_training=[name for name, layer in layers if layer.training],
            denoisers_trainable=[name for name, layer in layers
                                 if all(p.requires_grad for p in layer.denoiser.parameters())],
            norms_training=[name for name, m in model.named_modules()
                            if getattr(m, 'running_mean', None) is not None and m.training]))

    @property
    def phases(self):
        return [record['phase'] for record in self.iterations]


def changed(before: dict, after: dict) -> set:
    """Names whose tensors differ between two {name: tensor} snapshots."""
    assert before.keys() == after.keys()
    return {name for name in before if not torch.equal(before[name], after[name])}


class LossRecord(Hook):
    """Each training iteration's loss terms (the message hub's buffers restart at phase changes when a config
    lists PhaseLoggingHook)."""

    priority = 'LOWEST'

    def __init__(self):
        self.iterations = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.iterations.append({key: value.item() for key, value in outputs.items()})

    def values(self, key):
        return np.array([losses[key] for losses in self.iterations])
