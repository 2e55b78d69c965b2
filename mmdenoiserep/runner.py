"""Deprecated alias: the tools' shared code is now `mmdenoiserep.apis` (build_model, build_runner, ...) and
`mmdenoiserep.cli` (argument parsing, load_config, ...). This module only re-exports them for importers not
yet updated; import from those modules instead."""
from .apis import build_model, build_runner, check_data, resolve_resume, total_batch_size
from .cli import add_config_args, exit_with_error, load_config, print_once

__all__ = ['add_config_args', 'load_config', 'build_model', 'build_runner', 'check_data', 'exit_with_error',
           'print_once', 'resolve_resume', 'total_batch_size']
