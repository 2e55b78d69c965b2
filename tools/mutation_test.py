"""Mutation testing of the modules the suite must guard, with mutmut (configured in setup.cfg, [mutmut]).

    python tools/mutation_test.py [PATTERN ...] [--survivors] [--max-children N] [--fail-under PERCENT]
                                  [--report-only]

Runs ``mutmut run`` and prints one row per module: mutants, killed (a test failed, or the mutant hung past
mutmut's timeout), survived, not covered by any test of the selection, and the score killed / mutants.
Results accumulate in ``mutants/``. Without PATTERNs a run tests only the mutants without a result (new,
changed, or left by an interrupted run); PATTERNs (e.g. ``'mmdenoiserep.core.fusion*'``) test every mutant
whose name matches, again. ``--survivors`` first tests the mutants not tested yet (those of changed
code among them), then again the (matching) mutants that survived or had no test: after adding tests.
``--report-only`` prints the table from what is there. ``--fail-under P``: exit 1 when a module scores
below P percent.
"""
import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ('mmdenoiserep/core', 'mmdenoiserep/engine', 'mmdenoiserep/models', 'mmdenoiserep/utils',
           'mmdenoiserep/apis.py', 'tools/fuse_ckpt.py')
KILLED, SURVIVED, NO_TESTS, NOT_RUN = 'killed', 'survived', 'not covered', 'not run'
STATUS_BY_EXIT_CODE = {1: KILLED, 3: KILLED, 36: KILLED, 24: KILLED, -24: KILLED, 152: KILLED, 255: KILLED,
                       -9: KILLED, -11: KILLED, 0: SURVIVED, 5: NO_TESTS, 33: NO_TESTS}  # mutmut's codes


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('patterns', nargs='*', help="mutant name patterns (default: all)")
    parser.add_argument('--survivors', action='store_true',
                        help='test the mutants not run yet, then the (matching) survivors and uncovered ones again')
    parser.add_argument('--max-children', type=int, help='parallel mutant workers (default: mutmut\'s, the CPUs)')
    parser.add_argument('--fail-under', type=float, help='exit 1 if a module scores below this percentage')
    parser.add_argument('--report-only', action='store_true', help='print the table of the last run only')
    return parser.parse_args(argv)


def run_mutmut(names, max_children=None) -> bool:
    """``mutmut run [--max-children N] NAME...`` (no names: every mutant without a result); True if it passed."""
    command = [sys.executable, '-m', 'mutmut', 'run', *names]
    if max_children:
        command[4:4] = ['--max-children', str(max_children)]
    # one intra-op thread per mutant worker: mutmut runs one worker per CPU
    env = {'OMP_NUM_THREADS': '1', **os.environ}
    return subprocess.run(command, cwd=ROOT, env=env).returncode == 0


def module_of(path: Path) -> str:
    relative = path.relative_to(ROOT / 'mutants').as_posix()
    return next((module for module in MODULES if relative == module or relative.startswith(module + '/')),
                relative)


def results(patterns=()):
    """(mutant name, module, status) of each mutant in mutants/**/*.py.meta that matches ``patterns``
    (all, if none)."""
    from fnmatch import fnmatch
    for meta in sorted((ROOT / 'mutants').rglob('*.py.meta')):
        module = module_of(Path(str(meta)[:-len('.meta')]))
        for name, code in json.loads(meta.read_text())['exit_code_by_key'].items():
            if not patterns or any(fnmatch(name, pattern) for pattern in patterns):
                yield name, module, NOT_RUN if code is None else STATUS_BY_EXIT_CODE.get(code, f'other ({code})')


def outcomes(patterns=()) -> dict:
    """{module: Counter(status)} of the mutants matching ``patterns`` (all, if none)."""
    counts = {}
    for _, module, status in results(patterns):
        counts.setdefault(module, Counter())[status] += 1
    return counts


def table(counts: dict) -> str:
    lines = ['| module | mutants | killed | survived | not covered | other | score |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    for module, count in sorted(counts.items()):
        total = sum(count.values())
        other = total - count[KILLED] - count[SURVIVED] - count[NO_TESTS]
        lines.append(f'| {module} | {total} | {count[KILLED]} | {count[SURVIVED]} | {count[NO_TESTS]} | {other} | '
                     f'{100 * count[KILLED] / total:.1f}% |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.report_only:
        if args.survivors:
            # Code changed since the last run has its mutants regenerated without a result: a plain run
            # tests those (and any other left untested) first; then the survivors are listed and run again.
            passed = run_mutmut([], args.max_children)
            names = [name for name, _, status in results(args.patterns) if status in (SURVIVED, NO_TESTS)]
            passed = passed and (not names or run_mutmut(names, args.max_children))
        else:
            passed = run_mutmut(args.patterns, args.max_children)
        if not passed:
            print('mutation_test.py: error: mutmut run failed (see above)', file=sys.stderr)
            return 1
    counts = outcomes(args.patterns)
    if not counts:
        print('mutation_test.py: error: no mutation results in mutants/ (run without --report-only)',
              file=sys.stderr)
        return 1
    print(table(counts))
    low = [module for module, count in counts.items()
           if args.fail_under is not None and 100 * count[KILLED] / sum(count.values()) < args.fail_under]
    if low:
        print(f'mutation_test.py: error: below {args.fail_under}%: {", ".join(sorted(low))}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
