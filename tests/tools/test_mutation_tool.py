"""tools/mutation_test.py: the per-module table from mutmut's result files, and what it asks mutmut to run."""
import json
from types import SimpleNamespace

import pytest
from tool_helpers import load_tool, run_tool

RESULTS = {  # mutmut's exit codes: 1 a test failed, -24 CPU time limit, 0 survived, 33 no test, None not run
    'mmdenoiserep/core/fusion.py': {'mmdenoiserep.core.fusion.x_f__mutmut_1': 1,
                                    'mmdenoiserep.core.fusion.x_f__mutmut_2': 0,
                                    'mmdenoiserep.core.fusion.x_f__mutmut_3': -24,
                                    'mmdenoiserep.core.fusion.x_f__mutmut_4': 1},
    'mmdenoiserep/core/schedule.py': {'mmdenoiserep.core.schedule.x_s__mutmut_1': 33,
                                      'mmdenoiserep.core.schedule.x_s__mutmut_2': None},
    'tools/fuse_ckpt.py': {'tools.fuse_ckpt.x_main__mutmut_1': 1, 'tools.fuse_ckpt.x_main__mutmut_2': 0},
}


@pytest.fixture
def tool(tmp_path, monkeypatch):
    module = load_tool('mutation_test')
    monkeypatch.setattr(module, 'ROOT', tmp_path)
    for path, codes in RESULTS.items():
        meta = tmp_path / 'mutants' / f'{path}.meta'
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({'exit_code_by_key': codes}))
    commands = []
    monkeypatch.setattr(module.subprocess, 'run',
                        lambda command, **kwargs: commands.append((command, kwargs)) or SimpleNamespace(returncode=0))
    return SimpleNamespace(module=module, commands=commands)


def test_table_counts_each_module(tool):
    result = run_tool('mutation_test', '--report-only')
    assert result.returncode == 0 and tool.commands == []
    assert result.stdout.splitlines()[2:] == [
        '| mmdenoiserep/core | 6 | 3 | 1 | 1 | 1 | 50.0% |',
        '| tools/fuse_ckpt.py | 2 | 1 | 1 | 0 | 0 | 50.0% |']
    result = run_tool('mutation_test', '--report-only', 'mmdenoiserep.core.fusion.*', '--fail-under', '75')
    assert result.returncode == 0
    assert result.stdout.splitlines()[2:] == ['| mmdenoiserep/core | 4 | 3 | 1 | 0 | 0 | 75.0% |']


def test_fail_under_names_the_modules_below(tool):
    result = run_tool('mutation_test', '--report-only', 'mmdenoiserep.core.f*', 'tools.*', '--fail-under', '60')
    assert result.returncode == 1
    assert result.stderr.strip() == 'mutation_test.py: error: below 60.0%: tools/fuse_ckpt.py'


def test_patterns_and_survivors_become_the_mutants_mutmut_runs(tool):
    assert run_tool('mutation_test', 'tools.*', '--max-children', '1').returncode == 0
    command, kwargs = tool.commands[-1]
    assert command[1:] == ['-m', 'mutmut', 'run', '--max-children', '1', 'tools.*']
    assert kwargs['env']['OMP_NUM_THREADS'] == '1'
    del tool.commands[:]
    assert run_tool('mutation_test', '--survivors', 'mmdenoiserep.*').returncode == 0
    assert [command[3:] for command, _ in tool.commands] == [
        ['run'],  # first the mutants without a result (of changed code, too), in every module
        ['run', 'mmdenoiserep.core.fusion.x_f__mutmut_2',  # survived
         'mmdenoiserep.core.schedule.x_s__mutmut_1']]  # no test
    assert run_tool('mutation_test').returncode == 0
    assert tool.commands[-1][0][3:] == ['run']  # all: the mutants without a result


def test_errors_without_results_and_survivors_without_survivors(tool, tmp_path, monkeypatch):
    result = run_tool('mutation_test', '--survivors', 'mmdenoiserep.core.fusion.x_f__mutmut_1')  # killed
    assert result.returncode == 0 and [command[3:] for command, _ in tool.commands] == [['run']]
    assert result.stdout.splitlines()[2:] == ['| mmdenoiserep/core | 1 | 1 | 0 | 0 | 0 | 100.0% |']
    monkeypatch.setattr(tool.module.subprocess, 'run', lambda command, **kwargs: SimpleNamespace(returncode=2))
    result = run_tool('mutation_test', '--survivors')
    assert result.returncode == 1 and result.stderr.strip() == 'mutation_test.py: error: mutmut run failed (see above)'
    for meta in (tmp_path / 'mutants').rglob('*.meta'):
        meta.unlink()
    result = run_tool('mutation_test', '--report-only')
    assert result.returncode == 1 and 'no mutation results in mutants/' in result.stderr
