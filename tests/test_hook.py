"""DenoiseRepHook in real mmengine runs on the tiny data: loss key, phases, frozen statistics, resume."""
import copy

import pytest
import torch
from mmengine.hooks import Hook
from runner_helpers import RESNET18, Snapshots, changed, tiny_cfg

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
    snapshots = Snapshots()
    runner.register_hook(snapshots)
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
    values, _ = runner.message_hub.get_scalar('train/loss_denoise').data
    losses, _ = runner.message_hub.get_scalar('train/loss').data
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
    runner = build_runner(cfg)
    runner.train()
    assert denoising_layers(runner.model)
    assert runner.message_hub.get_info('denoiserep_phase') == 'finetune'
    values, _ = runner.message_hub.get_scalar('train/loss_denoise').data
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
    assert layers and all(not layer.reuse_fused_weights and layer._fused_cache is None for _, layer in layers)
