"""Run the scripts of ``tools/`` in the test process: faster than a subprocess, and monkeypatchable.

A tool is imported once as the module ``tools.NAME`` (its file path as a dotted name: what mutation
testing expects, see docs/development.md, "Mutation testing") and run through its ``main`` with ``sys.argv``
set, from the repository root.
"""
import contextlib
import importlib.util
import io
import logging
import os
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
_modules = {}


def load_tool(name: str):
    """The module of ``tools/NAME.py`` (``name`` may hold a folder: 'experiments/fashion_mnist')."""
    if name not in _modules:
        module_name = 'tools.' + name.replace('/', '.')
        spec = importlib.util.spec_from_file_location(module_name, ROOT / 'tools' / f'{name}.py')
        _modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return _modules[name]


def run_tool(name: str, *args) -> SimpleNamespace:
    """``python tools/NAME.py ARGS`` in this process: returncode, stdout and stderr as a subprocess gives
    them (``sys.exit(message)`` prints the message to stderr and exits with 1)."""
    out, err = io.StringIO(), io.StringIO()
    argv, cwd = sys.argv, os.getcwd()
    sys.argv = [f'tools/{name}.py', *map(str, args)]
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _log_handlers_to(out):
            try:
                status = load_tool(name).main()
            except SystemExit as exit_:
                status = exit_.code
            if isinstance(status, str):
                print(status, file=sys.stderr)
                status = 1
    finally:
        sys.argv = argv
        os.chdir(cwd)
    return SimpleNamespace(returncode=status or 0, stdout=out.getvalue(), stderr=err.getvalue())


@contextlib.contextmanager
def _log_handlers_to(stream):
    """Point every console handler of the logging module at ``stream`` (the tool's stdout, where mmengine's
    logger writes in a subprocess). mmengine's loggers are made once per process and keep the stdout of the
    test that made them, which pytest closes after it: logging to it printed '--- Logging error ---' and a
    traceback into the next tool run's stderr."""
    # MMLogger's instances are not in logging's registry, and mmengine lists them only in ManagerMixin's
    # private _instance_dict (get_instance needs a name, get_current_instance gives the last one)
    from mmengine.logging import MMLogger
    loggers = ([logging.getLogger()] + list(MMLogger._instance_dict.values()) +
               [logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)])
    handlers = {handler for logger in loggers for handler in logger.handlers
                if type(handler) is logging.StreamHandler}
    previous = {handler: handler.stream for handler in handlers}
    for handler in handlers:
        handler.stream = stream  # not setStream: it flushes the old stream, which may be closed
    try:
        yield
    finally:
        for handler, old in previous.items():
            handler.stream = old
