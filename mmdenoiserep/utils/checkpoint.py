"""Load mmengine checkpoints with torch's ``weights_only`` safety on.

torch >= 2.6 unpickles with ``weights_only=True`` by default; mmengine 0.10.7 checkpoints carry a
few non-tensor globals (the message hub's HistoryBuffer and the numpy arrays and scalars inside it),
so `torch.load` refuses them. Instead of turning the safety off, the globals below are allowlisted.
HistoryBuffer pickles its statistics methods as ``getattr(HistoryBuffer, 'min')``; plain ``getattr``
would open the unpickler to arbitrary attribute access, so it is allowlisted only as a restricted
stand-in that resolves HistoryBuffer's statistics methods and refuses everything else.
"""
import os.path as osp
import pickle
import re
import sys
import zipfile
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from .errors import InputError, first_line
from .files import write_atomically

__all__ = ['rename_keys', 'checkpoint_safe_globals', 'allow_mmengine_checkpoints', 'load_checkpoint_file',
           'load_state_dict_exact', 'read_denoiserep_checkpoint', 'checkpoint_state_dict', 'check_not_unfused',
           'save_atomically', 'convert_checkpoint_file']


def checkpoint_safe_globals() -> List:
    """The non-tensor globals of mmengine checkpoints that ``torch.load(weights_only=True)`` may unpickle:
    numpy's array and scalar reconstruction with the dtypes HistoryBuffer holds, HistoryBuffer, and
    ``getattr`` restricted to HistoryBuffer's statistics methods. Built on each call (a dozen objects)."""
    from mmengine.logging import HistoryBuffer
    multiarray = getattr(np, '_core', np.core).multiarray
    dtype_classes = [type(np.dtype(t)) for t in ('float64', 'float32', 'float16', 'int64', 'int32',
                                                   'int8', 'uint8', 'bool')]
    return ([multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype] + dtype_classes +
            [HistoryBuffer, (_history_buffer_statistic, 'builtins.getattr')])


def _history_buffer_statistic(owner, name: str):
    """``getattr`` limited to what mmengine pickles: a statistics method of HistoryBuffer."""
    from mmengine.logging import HistoryBuffer
    allowed = {'min', 'max', 'current', 'mean'} | set(HistoryBuffer._statistics_methods)
    if owner is not HistoryBuffer or name not in allowed:
        raise pickle.UnpicklingError(f'refusing getattr({owner!r}, {name!r}) in a checkpoint')
    return getattr(HistoryBuffer, name)


def allow_mmengine_checkpoints() -> None:
    """Allowlist `checkpoint_safe_globals` for every later ``torch.load(weights_only=True)``."""
    torch.serialization.add_safe_globals(checkpoint_safe_globals())


def load_checkpoint_file(path: str, map_location='cpu') -> dict:
    """``torch.load(path, weights_only=True)`` with the mmengine globals allowed; returns the dict."""
    with torch.serialization.safe_globals(checkpoint_safe_globals()):
        return torch.load(path, map_location=map_location, weights_only=True)


def load_state_dict_exact(model: torch.nn.Module, state_dict: dict) -> None:
    """Load ``state_dict``, which must have exactly the keys of ``model.state_dict()`` and its shapes.

    This is ``strict=True`` measured against what the model's own checkpoints hold. It differs only for
    models whose state_dict hooks drop buffers that they rebuild (mmpretrain's SwinV2 drops its relative
    position tables), which fail ``strict=True`` even on their own state_dict.

    Raises:
        ValueError: on missing or unexpected keys, or shape mismatches (one line).
    """
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state_dict)), sorted(set(state_dict) - set(own))
    mismatched = [f'{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}'
                  for k in own.keys() & state_dict.keys() if state_dict[k].shape != own[k].shape]
    problems = [f'{what} {len(keys)} keys ({", ".join(keys[:3])}{", ..." if len(keys) > 3 else ""})'
                for what, keys in (('missing', missing), ('unexpected', unexpected),
                                   ('shape mismatch in', sorted(mismatched))) if keys]
    if problems:
        raise ValueError('; '.join(problems))
    model.load_state_dict(state_dict, strict=False)


def checkpoint_state_dict(checkpoint, source: str = '') -> Mapping:
    """The state_dict of a loaded checkpoint: ``checkpoint['state_dict']``, or the checkpoint itself when
    it is a bare state_dict (as mmengine's loader accepts). Raises InputError ('<source> holds no state_dict
    of tensors') if it holds no tensors."""
    state_dict = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, Mapping) else None
    if not isinstance(state_dict, Mapping) or not state_dict or not all(torch.is_tensor(v)
                                                                        for v in state_dict.values()):
        raise InputError(f'{source} holds no state_dict of tensors'.strip())
    return state_dict


def check_checkpoint_file(path: str, what: str = 'checkpoint') -> None:
    """Raise InputError unless ``path`` is a complete torch checkpoint file (a zip archive whose central
    directory, at its end, is intact: a truncated file fails here without being read). Remote paths
    (``scheme://``) pass."""
    if '://' in str(path):
        return
    if not osp.isfile(path):
        raise InputError(f'{what} not found: {path}' + (' (a directory)' if osp.isdir(path) else ''))
    if not zipfile.is_zipfile(path):
        raise InputError(f'{what} {path} is not a complete torch checkpoint (truncated, or another format)')


def read_denoiserep_checkpoint(path: str, ema: bool = False) -> Tuple[dict, dict]:
    """(meta, state_dict) of an unfused DenoiseRep checkpoint: an mmengine checkpoint or a bare state_dict.

    Checkpoints that real runs write are taken as they come: keys with DDP's ``module.`` prefix (on every
    key) lose it; a checkpoint of mmengine's EMAHook (``state_dict`` = averaged weights, ``ema_state_dict``
    = ``module.``-prefixed raw ones) gives its raw weights, or the averaged ones with ``ema=True``.
    ``meta['denoiserep_weights']`` says which weights were taken. Raises InputError (one line) for a
    missing, unreadable or already fused checkpoint, ``ema=True`` without EMA weights, or a NaN or Inf in
    any tensor.
    """
    if not osp.isfile(path):
        raise InputError(f'checkpoint not found: {path}')
    try:
        checkpoint = load_checkpoint_file(path)
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise InputError(f'cannot read checkpoint {path}: {first_line(error)}') from error
    state_dict = dict(checkpoint_state_dict(checkpoint, path))
    averaged = checkpoint.get('ema_state_dict')  # a Mapping only in an EMAHook checkpoint (a bare one: a tensor)
    if ema and not isinstance(averaged, Mapping):
        raise InputError(f'{path} holds no EMA weights (no ema_state_dict: not saved with EMAHook); drop --ema')
    if isinstance(averaged, Mapping) and not ema:  # EMAHook swapped: the raw weights are in ema_state_dict
        raw = {key[len('module.'):]: value for key, value in averaged.items() if key.startswith('module.')}
        state_dict.update({key: value for key, value in raw.items() if key in state_dict})
        weights = 'raw weights (the checkpoint also holds EMA-averaged ones: --ema fuses those)'
    else:
        weights = 'EMA-averaged weights' if ema else 'the checkpoint\'s weights'
    state_dict = strip_ddp_prefix(state_dict)
    if not any('.denoiser.' in key for key in state_dict):
        raise InputError(f'{path} has no denoiser parameters (already fused, or not a DenoiseRep checkpoint)')
    check_finite(state_dict, path)
    meta = dict((checkpoint.get('meta') if 'state_dict' in checkpoint else None) or {})
    meta['denoiserep_weights'] = weights
    return meta, state_dict


def rename_keys(state_dict: Mapping, renames, source: str) -> dict:
    """A new state_dict with each key renamed by the first ``(regex, replacement)`` of ``renames`` that
    matches it (``re.match``, then ``re.sub``); InputError on a key none matches ('not a <source>')."""
    renamed = {}
    for key, value in state_dict.items():
        for pattern, replacement in renames:
            if re.match(pattern, key):
                renamed[re.sub(pattern, replacement, key)] = value
                break
        else:
            raise InputError(f'unexpected key {key!r}: not a {source}')
    return renamed


def strip_ddp_prefix(state_dict: Mapping) -> dict:
    """``state_dict`` without DDP's ``module.`` prefix when every key carries it (else unchanged)."""
    if state_dict and all(key.startswith('module.') for key in state_dict):
        return {key[len('module.'):]: value for key, value in state_dict.items()}
    return dict(state_dict)


def first_non_finite(state_dict: Mapping) -> Optional[Tuple[str, int, int]]:
    """(key, non-finite count, numel) of the first floating tensor of ``state_dict`` with a NaN or Inf;
    None if every one is finite."""
    for key, value in state_dict.items():
        if torch.is_tensor(value) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return key, int((~torch.isfinite(value)).sum()), value.numel()
    return None


def check_finite(state_dict: Mapping, source: str) -> None:
    """Raise InputError naming the first floating tensor of ``state_dict`` that holds a NaN or Inf."""
    found = first_non_finite(state_dict)
    if found is not None:
        key, bad, numel = found
        raise InputError(f'{source} holds non-finite values in {key} ({bad} of {numel}): '
                         'a diverged run; refusing to use it')


def check_not_unfused(model: torch.nn.Module, checkpoint, source: str = 'the checkpoint') -> None:
    """Refuse an unfused DenoiseRep checkpoint (``*.denoiser.*`` keys) for a model without denoisers.

    Loaded non-strictly, such a model would ignore the denoisers and run the unfused W.
    """
    from ..core import denoising_layers
    try:
        keys = [k for k in checkpoint_state_dict(checkpoint) if '.denoiser.' in k]
    except InputError:
        return
    if keys and not denoising_layers(model):
        raise InputError(f'{source} is an unfused DenoiseRep checkpoint ({len(keys)} denoiser tensors) and '
                         'this model has no denoisers: fuse it first with tools/fuse_ckpt.py '
                         'DENOISEREP_CONFIG CHECKPOINT OUT, or use its DenoiseRep config')


def save_atomically(obj, path: str) -> None:
    """``torch.save(obj, path)`` through a temporary file in the same folder and a rename: ``path`` is
    either left as it was or holds the complete new file, with the mode a plain save would give it."""
    write_atomically(path, lambda f: torch.save(obj, f))


def convert_checkpoint_file(src: str, dst: str, convert: Callable, tool: str,
                            safe_globals: Sequence = ()) -> Tuple[dict, dict]:
    """Read SRC, convert it, write DST: the path every script of tools/model_converters/ takes.

    SRC must be a file; it is read by `load_checkpoint_file` (``weights_only``, with ``safe_globals`` allowed for
    this load only) and handed to ``convert(checkpoint) -> (state_dict, meta)``; the state_dict must be finite
    (`check_finite`). DST gets ``{'meta': dict(converted_from=<SRC's absolute path>, converter=tool, **meta),
    'state_dict': state_dict}``, written atomically. Returns (state_dict, that meta). Bad input (an InputError
    here or from ``convert``) or a failed write exits with the one line '<tool>: error: ...' (status 1), no DST.
    """
    try:
        if not osp.isfile(src):
            raise InputError(f'SRC not found: {src}' + (' (a directory)' if osp.isdir(src) else ''))
        try:
            with torch.serialization.safe_globals(list(safe_globals)):
                checkpoint = load_checkpoint_file(src)
        except Exception as error:  # torch raises several types for truncated or foreign files
            raise InputError(f'cannot read {src}: {first_line(error)}') from error
        state_dict, meta = convert(checkpoint)
        check_finite(state_dict, src)
        meta = dict(converted_from=osp.abspath(src), converter=tool, **meta)
        save_atomically(dict(meta=meta, state_dict=state_dict), dst)
    except InputError as error:
        sys.exit(f'{tool}: error: {error}')
    except OSError as error:
        sys.exit(f'{tool}: error: cannot write {dst}: {first_line(error)}')
    return state_dict, meta
