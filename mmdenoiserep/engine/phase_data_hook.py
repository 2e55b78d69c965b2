"""``mmdenoiserep.PhaseTrainDataHook``: another training set in the epochs of one DenoiseRep phase."""
import copy
from typing import Dict, Optional

from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader

from ..apis import total_batch_size
from ..core import PHASES
from ..registry import HOOKS
from ..utils import InputError
from .hook import DenoiseRepHook

__all__ = ['PhaseTrainDataHook']


@HOOKS.register_module()
class PhaseTrainDataHook(Hook):
    """Train on ``dataset`` in the epochs of ``phase``, on the config's training set in the others.

    Its one job: before every training epoch, point the train loop at the loader of that epoch's phase, which
    the run's `DenoiseRepHook` decides (``phase_at(epoch, iteration)``, the one phase schedule of the run).
    The phase's loader is the config's ``train_dataloader`` with ``dataset`` in place of its dataset and a
    shuffling ``DefaultSampler`` (seeded with the run's seed) in place of its sampler and batch sampler
    (an identity batch sampler needs labels), at the same total batch: a global ``batch_size`` (under
    `mmdenoiserep.IdentityBatchSampler`) becomes ``batch_size / world_size`` per process. Workers, collate
    function and the rest are the train loader's. The loader of an epoch is a function of the epoch alone and
    each sampler draws its order from (seed, epoch), so a run resumed with ``--resume`` trains every epoch on
    the data of the run that was not interrupted. The train loop's ``max_iters`` is set to the sum of the
    epochs' loader lengths (mmengine computes it from the config's loader only).

    Example: DenoiseRep's denoise phase (label-free: DenoiseRepHook runs the backbone only) on the union of
    four re-id training sets' images, its finetune phase on the target set's labelled identity batches::

        custom_hooks = [dict(type='mmdenoiserep.DenoiseRepHook', phases=('denoise', 'finetune'), ...),
                        dict(type='mmdenoiserep.PhaseLoggingHook'),
                        dict(type='mmdenoiserep.PhaseTrainDataHook', phase='denoise',
                             dataset=dict(type='ConcatDataset', datasets=[...]))]

    Args:
        dataset (dict): the config of the dataset of ``phase``'s epochs (built in the toolbox's scope).
        phase (str): a phase of the run's DenoiseRepHook. Defaults to 'denoise'.

    Note:
        Priority ``'ABOVE_NORMAL'``: it swaps the loader before ``DistSamplerSeedHook`` (``'NORMAL'``) sets the
        epoch of the loader's sampler. Phases must change at epoch boundaries: the run's DenoiseRepHook must
        count epochs under an ``EpochBasedTrainLoop``. ``PhaseLoggingHook``'s ETA assumes one loader length.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, dataset: dict, phase: str = 'denoise'):
        if not isinstance(dataset, dict) or 'type' not in dataset:
            raise InputError(f'PhaseTrainDataHook: dataset must be a dataset config dict(type=...), got {dataset!r}')
        if phase not in PHASES:
            raise InputError(f'PhaseTrainDataHook: phase must be one of {PHASES}, got {phase!r}')
        self.dataset = copy.deepcopy(dataset)
        self.phase = phase
        self._schedule: Optional[DenoiseRepHook] = None
        self._loaders: Dict[bool, DataLoader] = {}  # in the phase -> loader

    def before_train(self, runner) -> None:
        self._schedule = self._denoiserep_hook(runner)
        self._loaders = {False: runner.train_loop.dataloader, True: self._build_loader(runner)}
        loop = runner.train_loop
        loop._max_iters = sum(len(self._loader_of(epoch)) for epoch in range(loop.max_epochs))

    def before_train_epoch(self, runner) -> None:
        runner.train_loop.dataloader = self._loader_of(runner.epoch)

    def _loader_of(self, epoch: int) -> DataLoader:
        return self._loaders[self._schedule.phase_at(epoch, 0) == self.phase]

    def _denoiserep_hook(self, runner) -> DenoiseRepHook:
        hooks = [hook for hook in runner.hooks if isinstance(hook, DenoiseRepHook)]
        if len(hooks) != 1:
            raise InputError(f'PhaseTrainDataHook: needs exactly one DenoiseRepHook in the run (its phase schedule), '
                             f'found {len(hooks)}')
        hook = hooks[0]
        if not isinstance(runner.train_loop, EpochBasedTrainLoop) or hook.by_epoch is False:
            raise InputError('PhaseTrainDataHook: changes the training set at epoch boundaries: it needs an '
                             'EpochBasedTrainLoop and a DenoiseRepHook that counts epochs')
        if self.phase not in hook.phases:
            raise InputError(f'PhaseTrainDataHook: phase {self.phase!r} is not among the DenoiseRepHook phases '
                             f'{hook.phases}')
        return hook

    def _build_loader(self, runner) -> DataLoader:
        world_size = get_world_size()
        total, _ = total_batch_size(runner.cfg, world_size)
        if total % world_size:
            raise InputError(f'PhaseTrainDataHook: the total batch {total} does not divide among {world_size} '
                             'processes')
        loader = copy.deepcopy(dict(runner.cfg.train_dataloader))  # plain dict: update replaces, never merges
        loader.pop('batch_sampler', None)
        loader.update(dataset=copy.deepcopy(self.dataset), sampler=dict(type='DefaultSampler', shuffle=True),
                      batch_size=total // world_size)
        diff_rank_seed = runner.cfg.get('randomness', {}).get('diff_rank_seed', False)
        return runner.build_dataloader(loader, seed=runner.seed, diff_rank_seed=diff_rank_seed)
