"""A DenoiseRep config runs under mmengine's plain ``Runner.from_cfg(cfg).train()``, the way the stock toolboxes'
tools and ``mim train`` run it: in a fresh process that never imports mmdenoiserep itself (the config's
``custom_imports`` does), it trains through both phases with the hooks the config declares
(configs/_base_/denoiserep_runtime.py): atomic checkpoints, reseeding, the checkpoint checks. Killed with
SIGKILL after its first epoch and resumed with mmengine's own ``resume=True``, it ends with the weights of
the run that was not interrupted.

The config is the tiny LeNet-5 DenoiseRep config (--tiny's rules, applied here and dumped to a file).
"""
import json
import signal
import subprocess
import sys
import textwrap
import types

import pytest
import torch
from config_helpers import ROOT, load

from mmdenoiserep import add_denoisers
from mmdenoiserep.engine import FusedCheckpointCheckHook
from mmdenoiserep.utils import InputError, load_checkpoint_file

CONFIG = 'configs/lenet5_denoiserep_fashion_mnist.py'

#: The child: mmengine only. argv: config file, work dir, mode ('run', 'kill' after epoch 1, 'resume').
CHILD = textwrap.dedent('''
    import json, os, signal, sys
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.runner import Runner
    path, work_dir, mode = sys.argv[1:]
    ours = lambda: sorted(m for m in sys.modules if m.split('.')[0] == 'mmdenoiserep')
    imported_before = ours()
    cfg = Config.fromfile(path)
    cfg.work_dir, cfg.resume = work_dir, mode == 'resume'
    runner = Runner.from_cfg(cfg)
    phases = []

    class Record(Hook):
        priority = 'LOWEST'  # after the checkpoint hook (VERY_LOW)

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            phases.append((runner.iter, runner.message_hub.get_info('denoiserep_phase')))

        def after_train_epoch(self, runner):
            if mode == 'kill':
                os.kill(os.getpid(), signal.SIGKILL)

    runner.register_hook(Record())
    runner.train()
    print(json.dumps(dict(imported_before=imported_before, imported='mmdenoiserep' in ours(), phases=phases,
                          hooks=[type(hook).__name__ for hook in runner.hooks])))
''')


def start(path, work_dir, mode):
    return subprocess.Popen([sys.executable, '-c', CHILD, str(path), str(work_dir), mode], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process):
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def weights(work_dir, name='epoch_2.pth'):
    return load_checkpoint_file(str(work_dir / name))['state_dict']


def test_plain_runner_trains_both_phases_atomically_and_resumes_exactly(tmp_path):
    cfg = load(CONFIG, 'randomness.seed=0', 'randomness.deterministic=True', work_dir=tmp_path / 'unused')
    path = tmp_path / 'tiny_lenet5_denoiserep.py'
    cfg.dump(str(path))

    runs = start(path, tmp_path / 'whole', 'run'), start(path, tmp_path / 'resumed', 'kill')  # side by side
    whole, killed = map(finish, runs)
    assert whole.returncode == 0, whole.stderr[-3000:]
    result = json.loads(whole.stdout.strip().splitlines()[-1])
    assert result['imported_before'] == [] and result['imported']  # custom_imports did it
    assert {'AtomicCheckpointHook', 'ReseedHook', 'UnfusedCheckpointCheckHook',
            'FusedCheckpointCheckHook', 'NonFiniteCheckHook'} <= set(result['hooks'])
    assert 'CheckpointHook' not in result['hooks']
    phases = [phase for _, phase in result['phases']]
    assert phases[0] == 'denoise' and phases[-1] == 'finetune' and set(phases) == {'denoise', 'finetune'}
    assert (tmp_path / 'whole' / 'last_checkpoint').read_text().strip().endswith('epoch_2.pth')
    assert not list((tmp_path / 'whole').glob('.*.tmp*'))  # no leftovers of the atomic writes

    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / 'resumed').glob('*.pth')) == ['epoch_1.pth']
    resumed = finish(start(path, tmp_path / 'resumed', 'resume'))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    rest = json.loads(resumed.stdout.strip().splitlines()[-1])['phases']
    assert rest == [entry for entry in result['phases'] if entry[0] >= rest[0][0]] and rest[0][0] > 0
    expected, actual = weights(tmp_path / 'whole'), weights(tmp_path / 'resumed')
    assert expected.keys() == actual.keys() and any('.denoiser.' in key for key in expected)
    assert all(expected[key].equal(actual[key]) for key in expected), [k for k in expected
                                                                        if not expected[k].equal(actual[k])]


def test_the_fused_checkpoint_check_refuses_a_checkpoint_without_denoisers_at_test_and_val_only():
    """Declared for training too: a DenoiseRep run starts from its baseline's checkpoint (no denoiser keys)."""
    runner = types.SimpleNamespace(model=add_denoisers(torch.nn.Sequential(torch.nn.Linear(2, 2))), _load_from='x.pth')
    baseline = dict(state_dict={'0.weight': torch.zeros(2, 2), '0.bias': torch.zeros(2)})
    hook = FusedCheckpointCheckHook()
    hook.after_load_checkpoint(runner, baseline)
    hook.before_train(runner)  # training from the baseline: no refusal, in training or in its validations
    hook.before_val(runner)
    for check in (hook.before_test, hook.before_val):
        hook.after_load_checkpoint(runner, baseline)
        with pytest.raises(InputError, match='checkpoint x.pth holds no denoiser weights'):
            check(runner)
    hook.after_load_checkpoint(runner, dict(state_dict=runner.model.state_dict()))  # unfused: tested as it is
    hook.before_test(runner)
