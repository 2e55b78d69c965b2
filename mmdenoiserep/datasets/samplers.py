"""``mmdenoiserep.IdentityBatchSampler``: batches of P identities x K images, for the batch-hard triplet loss.

Placed as a loader's ``batch_sampler``; mmengine builds it with the loader's ``sampler`` and ``batch_size``.
Here ``batch_size`` is the **global** batch, P x K images per optimizer step whatever the number of
processes (as TransReID-SSL's ``SOLVER.IMS_PER_BATCH``: datasets/make_dataloader.py gives each of its DDP
processes IMS_PER_BATCH / world_size), so a re-id config runs the same experiment on 1 or 8 GPUs::

    train_dataloader = dict(batch_size=128, sampler=dict(type='DefaultSampler', shuffle=True),
                            batch_sampler=dict(type='mmdenoiserep.IdentityBatchSampler', num_instances=4))

One epoch, as TransReID's ``RandomIdentitySampler`` (read, not copied): the images of each identity are
shuffled and cut into chunks of K (an identity with fewer than K images is filled up to K by drawing from
its images with replacement; a remainder shorter than K is dropped); a batch takes one chunk of each of P
identities drawn without replacement among those with chunks left. Unlike it, an epoch has a fixed length,
``len(self)`` = total chunks // P steps: when fewer than P identities have chunks left, a new round of chunks
is cut. The epoch's global batches are the same on every process (a generator seeded with the inner
sampler's ``seed`` and ``epoch``, so ``set_epoch`` and ``DistSamplerSeedHook`` apply), and process r takes
identities r P/w .. (r + 1) P/w - 1 of each (w processes; P must be a multiple of w): deterministic for a
seed, different on each rank, and together exactly the one-process batch.
"""
from typing import Iterator, List

import numpy as np
from mmengine.dist import get_dist_info
from torch.utils.data import BatchSampler, Sampler

from ..registry import DATA_SAMPLERS
from ..utils import InputError

__all__ = ['IdentityBatchSampler']


@DATA_SAMPLERS.register_module()
class IdentityBatchSampler(BatchSampler):
    """Global batches of P = ``batch_size // num_instances`` identities x ``num_instances`` images
    (``gt_label``), each process taking P / world_size of the identities.

    Args:
        sampler: the loader's sampler; its ``dataset`` is read (labels, without the pipeline), and its
            ``seed``, ``epoch``, ``rank`` and ``world_size`` when it has them (mmengine's DefaultSampler).
        batch_size: images per optimizer step over all processes (P x K), a multiple of
            ``num_instances`` x world_size.
        num_instances: K, images of each identity in a batch (at least 2 for a triplet).
    """

    #: ``batch_size`` counts every process's images (tools/train.py reads it for the LR scaling).
    global_batch = True

    def __init__(self, sampler: Sampler, batch_size: int, num_instances: int = 4):
        if not isinstance(num_instances, int) or num_instances < 1:
            raise InputError(f'IdentityBatchSampler: num_instances must be a positive int, got {num_instances!r}')
        if not isinstance(batch_size, int) or batch_size < num_instances or batch_size % num_instances:
            raise InputError(f'IdentityBatchSampler: batch_size {batch_size!r} is not a multiple of '
                             f'num_instances {num_instances}')
        super().__init__(sampler, batch_size, drop_last=True)
        self.num_instances = num_instances
        self.num_identities = batch_size // num_instances
        rank, world_size = get_dist_info()
        self.rank = getattr(sampler, 'rank', rank)
        self.world_size = getattr(sampler, 'world_size', world_size)
        if self.num_identities % self.world_size:
            raise InputError(f'IdentityBatchSampler: the global batch of {self.num_identities} identities x '
                             f'{num_instances} images (batch_size {batch_size}) does not divide among '
                             f'{self.world_size} processes; make batch_size a multiple of '
                             f'{num_instances * self.world_size}')
        dataset = sampler.dataset
        self.indices_of = {}  # label -> dataset indices
        for index in range(len(dataset)):
            self.indices_of.setdefault(int(dataset.get_data_info(index)['gt_label']), []).append(index)
        if len(self.indices_of) < self.num_identities:
            raise InputError(f'IdentityBatchSampler: the dataset has {len(self.indices_of)} identities, fewer '
                             f'than the {self.num_identities} of a batch (batch_size / num_instances)')
        chunks = sum(max(len(ids), num_instances) // num_instances for ids in self.indices_of.values())
        self.length = chunks // self.num_identities  # >= 1: every identity makes a chunk

    def _chunks(self, rng: np.random.Generator) -> dict:
        """One round: label -> list of index arrays of length K (shuffled)."""
        k, chunks = self.num_instances, {}
        for label, indices in self.indices_of.items():
            indices = np.asarray(indices)
            drawn = rng.choice(indices, k, replace=True) if len(indices) < k else rng.permutation(indices)
            chunks[label] = [drawn[i:i + k] for i in range(0, len(drawn) - k + 1, k)]
        return chunks

    def epoch_batches(self) -> List[List[int]]:
        """The global batches of the current epoch, in order (the same on every process)."""
        seed, epoch = getattr(self.sampler, 'seed', 0), getattr(self.sampler, 'epoch', 0)
        rng = np.random.default_rng([seed, epoch])
        batches, chunks = [], {}
        while len(batches) < self.length:
            available = sorted(label for label, left in chunks.items() if left)
            if len(available) < self.num_identities:
                chunks = self._chunks(rng)
                continue
            chosen = rng.choice(available, self.num_identities, replace=False)
            batches.append([int(i) for label in chosen for i in chunks[label].pop()])
        return batches

    def __iter__(self) -> Iterator[List[int]]:
        share = self.batch_size // self.world_size  # whole identities: P / world_size chunks of K
        for batch in self.epoch_batches():
            yield batch[self.rank * share:(self.rank + 1) * share]

    def __len__(self) -> int:
        return self.length
