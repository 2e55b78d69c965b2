"""The test scaffolding (`mmdenoiserep.testing`: the tiny datasets and the --tiny rules) is no part of the
runtime package: no module of the package imports it, the tools' config loading imports it only under --tiny.
Checked in a fresh interpreter (nothing imported by an earlier test)."""
import json
import subprocess
import sys
import textwrap

from config_helpers import ROOT

#: Imports every module of the package but the scaffolding, then loads a config
#: as the tools do, without and with --tiny; prints the scaffolding modules imported after each step.
SCRIPT = textwrap.dedent('''
    import argparse, importlib, json, pkgutil, sys
    import mmdenoiserep
    names, packages = [], [mmdenoiserep]
    while packages:  # (pkgutil.walk_packages would import mmdenoiserep.testing to look inside)
        package = packages.pop()
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + '.'):
            if module.name == 'mmdenoiserep.testing':
                continue
            names.append(module.name)
            imported = importlib.import_module(module.name)
            if module.ispkg:
                packages.append(imported)
    scaffolding = lambda: sorted(m for m in sys.modules if m.startswith('mmdenoiserep.testing'))
    steps = {}
    steps['modules'] = scaffolding()
    from mmdenoiserep.cli import load_config
    for tiny in (False, True):
        load_config(argparse.Namespace(config='configs/lenet5_denoiserep_fashion_mnist.py', tiny=tiny,
                                       cfg_options=None))
        steps['tiny' if tiny else 'plain'] = scaffolding()
    steps['imported'] = names
    print(json.dumps(steps))
''')


def test_only_a_tiny_load_imports_the_test_scaffolding():
    result = subprocess.run([sys.executable, '-c', SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    steps = json.loads(result.stdout.strip().splitlines()[-1])
    assert {'mmdenoiserep.apis', 'mmdenoiserep.cli', 'mmdenoiserep.engine', 'mmdenoiserep.models'} <= set(
        steps['imported'])
    assert steps['modules'] == [] and steps['plain'] == []
    assert {'mmdenoiserep.testing.tiny_config', 'mmdenoiserep.testing.tiny_data'} <= set(steps['tiny'])
