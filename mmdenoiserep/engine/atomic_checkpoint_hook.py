"""``mmdenoiserep.AtomicCheckpointHook``: mmengine's CheckpointHook whose files are never half-written."""
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook

from ..registry import HOOKS
from ..utils import write_atomically

__all__ = ['AtomicLocalBackend', 'AtomicCheckpointHook', 'ATOMIC_BACKEND']

ATOMIC_BACKEND = 'mmdenoiserep_atomic_local'


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose ``put``/``put_text`` write a temporary file in the target's
    folder and rename it: the target holds either its old content or the complete new one."""

    def put(self, obj: bytes, filepath) -> None:
        write_atomically(str(filepath), lambda f: f.write(obj))

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        write_atomically(str(filepath), lambda f: f.write(obj.encode(encoding)))


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's `CheckpointHook` (same arguments) for runs that may be killed at any moment.

    - every checkpoint (by interval, ``save_last``, ``save_best``) is written to a temporary file and
      renamed (`AtomicLocalBackend`), so a kill during a save leaves the previous files intact;
    - the ``last_checkpoint`` pointer, which ``--resume`` reads, is replaced atomically and only after the
      checkpoint it names is complete;
    - temporary files that a kill left behind are removed when training starts again;
    - with ``max_keep_ckpts`` the oldest checkpoint is removed only after the new one and the pointer are
      in place (mmengine removes it before saving: a kill then left nothing to resume from).

    Local ``out_dir`` only; with ``backend_args`` or a remote ``out_dir`` it behaves as mmengine's hook
    apart from the order of removal. Every config of this project declares it (``default_hooks.checkpoint``,
    configs/_base_/denoiserep_runtime.py: the stock hook's arguments, this type).
    """

    def __init__(self, *args, out_dir=None, file_client_args=None, backend_args=None, **kwargs):
        if backend_args is None and file_client_args is None and '://' not in str(out_dir or ''):
            backend_args = dict(backend=ATOMIC_BACKEND)
        super().__init__(*args, out_dir=out_dir, file_client_args=file_client_args, backend_args=backend_args,
                         **kwargs)

    def before_train(self, runner) -> None:
        """mmengine's set-up, then remove the temporary files of saves that a kill interrupted."""
        super().before_train(runner)
        if is_main_process() and isinstance(self.file_backend, AtomicLocalBackend) and osp.isdir(self.out_dir):
            patterns = {osp.join(glob.escape(self.out_dir), f'.{self.filename_tmpl.format("*")}.*.tmp'),
                        osp.join(glob.escape(runner.work_dir), '.last_checkpoint.*.tmp')}  # checkpoints, pointer
            for path in {path for pattern in patterns for path in glob.glob(pattern)}:
                os.unlink(path)

    def _save_checkpoint_with_step(self, runner, step, meta):
        """mmengine's method with the old checkpoint removed last and the pointer written atomically."""
        expired = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                expired = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(self.out_dir, ckpt_filename, self.file_client_args, save_optimizer=self.save_optimizer,
                               save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
                               backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        write_atomically(pointer, lambda f: f.write(str(self.last_ckpt).encode()))
        if expired is not None and expired != step:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(expired))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed saves folders
                self.file_backend.rmtree(path)
