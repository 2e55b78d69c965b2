"""mmdenoiserep.PhaseTrainDataHook: the loader of every epoch follows the DenoiseRep phase schedule, checked
against the authors' epoch loop written out here (RG12138/DenoiseRep processor.py); its refusals. The hook in a
real run (the union of four re-id training sets, --resume): tests/experiments/test_reid_ablations.py."""
from types import SimpleNamespace
from unittest import mock

import pytest
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmdenoiserep.engine import DenoiseRepHook, PhaseTrainDataHook
from mmdenoiserep.utils import InputError

UNION = dict(type='ConcatDataset', datasets=[])


def authors_phase(epoch: int) -> str:
    """processor.py: epochs 1..E, denoisers trainable from the start; at epoch % FT_EPOCH == 0 they freeze when
    (epoch / FT_EPOCH) is odd (finetune), else unfreeze (denoise). ``epoch`` is 0-based here."""
    phase = 'denoise'
    for counted in range(1, epoch + 2):
        if counted % 10 == 0:
            phase = 'finetune' if (counted // 10) % 2 else 'denoise'
    return phase


def fake_runner(hooks, loop_class=EpochBasedTrainLoop):
    loop = mock.MagicMock(spec=loop_class)
    loop.dataloader = 'target loader'
    return SimpleNamespace(hooks=hooks, train_loop=loop, epoch=0)


def test_each_epoch_trains_on_the_loader_of_its_phase():
    schedule = DenoiseRepHook(loss_weight=0.1, phases=('denoise', 'finetune'), interval=10, offset=1, by_epoch=True)
    hook = PhaseTrainDataHook(UNION, phase='denoise')
    runner = fake_runner([schedule, hook])
    hook._schedule = hook._denoiserep_hook(runner)
    hook._loaders = {False: 'target loader', True: 'union loader'}
    seen = []
    for epoch in range(240):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        seen.append(runner.train_loop.dataloader)
    expected = ['union loader' if authors_phase(epoch) == 'denoise' else 'target loader' for epoch in range(240)]
    assert seen == expected and seen.count('union loader') == 120  # 9 + 11 x 10 + 1 denoise epochs
    assert seen[:10] == ['union loader'] * 9 + ['target loader'] and seen[-1] == 'union loader'


def test_it_refuses_what_it_cannot_follow():
    with pytest.raises(InputError, match='dataset must be a dataset config'):
        PhaseTrainDataHook(dict(data_root='data/x'))
    with pytest.raises(InputError, match='phase must be one of'):
        PhaseTrainDataHook(UNION, phase='pretrain')
    hook = PhaseTrainDataHook(UNION, phase='finetune')
    with pytest.raises(InputError, match='exactly one DenoiseRepHook'):
        hook._denoiserep_hook(fake_runner([]))
    with pytest.raises(InputError, match='is not among the DenoiseRepHook phases'):
        hook._denoiserep_hook(fake_runner([DenoiseRepHook(phases=('denoise',))]))
    with pytest.raises(InputError, match='at epoch boundaries'):
        hook._denoiserep_hook(fake_runner([DenoiseRepHook(by_epoch=False)]))
    with pytest.raises(InputError, match='at epoch boundaries'):
        hook._denoiserep_hook(fake_runner([DenoiseRepHook()], IterBasedTrainLoop))
