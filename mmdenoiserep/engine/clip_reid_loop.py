"""``mmdenoiserep.CLIPReIDTrainLoop``: CLIP-ReID's two training stages as one mmengine epoch loop.

Syliz517/CLIP-ReID ``train_clipreid.py``, ``processor/processor_clipreid_stage1.py``, ``processor_clipreid_stage2.py``:

- epochs 1 .. ``prompt_epochs``, stage 1: the image features v (f_proj of `mmdenoiserep.CLIPReID`, no SIE) of
  every training image are extracted once, through ``prompt_dataloader`` (the training set with the test
  transform), with the model in eval mode and no gradient; each epoch draws a permutation of them and trains
  the prompt learner on consecutive batches of ``prompt_batch_size`` (the last one shorter) with the model's
  ``mode='prompt_loss'`` (SupCon image-to-text + text-to-image) and the ``prompt`` optimizer.
- epochs ``prompt_epochs`` + 1 .. ``max_epochs``, stage 2: the text features of every identity are computed once
  (`CLIPReID.compute_text_features`) and the prompt learner is frozen; the epochs are mmengine's
  ``EpochBasedTrainLoop`` epochs over ``dataloader`` with the ``image`` optimizer (or the only one).

``prompt_epochs=0`` is stage 2 alone (the control and DenoiseRep runs from a trained CLIP-ReID model, with one
optimizer). Resuming: the checkpoint holds the weights, both optimizers and schedulers, the epoch and iteration;
the cached features are computed again from it (the frozen encoders give the same), so a resumed run trains as
an uninterrupted one. The permutation of epoch e is drawn from (run seed, e) and every process runs the whole
stage-1 batch (under DDP the gradients are averaged across identical batches: the SupCon loss of a batch does not
split across processes); the features are extracted in shards and gathered.

Not reproduced from CLIP-ReID: autocast during the two feature extractions (float32 here); an empty last stage-1
batch when the image count is a multiple of the batch (it gives NaN there; skipped here).
"""
import math
from typing import Optional, Tuple

import torch
from mmengine.dist import all_gather, get_world_size
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.runner import EpochBasedTrainLoop
from torch import Tensor

from ..registry import LOOPS
from ..utils import InputError
from .reseed_hook import derived_seed

__all__ = ['CLIPReIDTrainLoop', 'gather_in_dataset_order']


def gather_in_dataset_order(shard: Tensor, size: int) -> Tensor:
    """Every process's rows of mmengine's ``DefaultSampler(shuffle=False, round_up=True)`` shard (process r holds
    samples r, r + W, r + 2W, ...), gathered into dataset order, the first ``size`` rows."""
    if get_world_size() == 1:
        return shard[:size]
    return torch.stack(all_gather(shard), dim=1).flatten(0, 1)[:size]


@LOOPS.register_module()
class CLIPReIDTrainLoop(EpochBasedTrainLoop):
    """CLIP-ReID's stage 1 then stage 2 (see the module docstring).

    Args:
        runner: the runner.
        dataloader (dict): stage 2's training loader (identity batches, augmented).
        max_epochs (int): epochs of both stages together.
        prompt_epochs (int): stage 1's epochs (SOLVER.STAGE1.MAX_EPOCHS); 0: stage 2 only. Defaults to 0.
        prompt_dataloader (dict, optional): the training set with the test pipeline, for the feature extraction
            (its sampler is set to DefaultSampler(shuffle=False)). Needed when ``prompt_epochs`` > 0.
        prompt_batch_size (int): features per stage-1 step, on every process (SOLVER.STAGE1.IMS_PER_BATCH).
            Defaults to 64.
        val_begin, val_interval, dynamic_intervals: as EpochBasedTrainLoop's (epochs of both stages).
    """

    def __init__(self, runner, dataloader, max_epochs: int, prompt_epochs: int = 0,
                 prompt_dataloader: Optional[dict] = None, prompt_batch_size: int = 64, val_begin: int = 1,
                 val_interval: int = 1, dynamic_intervals=None):
        super().__init__(runner, dataloader, max_epochs, val_begin, val_interval, dynamic_intervals)
        if not isinstance(prompt_epochs, int) or not 0 <= prompt_epochs <= max_epochs:
            raise InputError(f'CLIPReIDTrainLoop: prompt_epochs must be an int in [0, max_epochs], got '
                             f'{prompt_epochs!r}')
        if prompt_epochs and prompt_dataloader is None:
            raise InputError('CLIPReIDTrainLoop: stage 1 (prompt_epochs > 0) needs prompt_dataloader')
        if not isinstance(prompt_batch_size, int) or prompt_batch_size < 1:
            raise InputError(f'CLIPReIDTrainLoop: prompt_batch_size must be a positive int, got {prompt_batch_size!r}')
        self.prompt_epochs, self.prompt_batch_size = prompt_epochs, prompt_batch_size
        self.prompt_dataloader = None
        if prompt_epochs:
            loader = dict(prompt_dataloader, sampler=dict(type='DefaultSampler', shuffle=False, round_up=True))
            self.prompt_dataloader = runner.build_dataloader(loader, seed=runner.seed)
            steps = math.ceil(len(self.prompt_dataloader.dataset) / prompt_batch_size)
            self._max_iters = prompt_epochs * steps + (max_epochs - prompt_epochs) * len(self.dataloader)
        self._prompt_features: Optional[Tuple[Tensor, Tensor]] = None

    @property
    def model(self):
        """The model inside any DDP wrapper."""
        return self.runner.model.module if is_model_wrapper(self.runner.model) else self.runner.model

    def optim_wrapper(self, stage: str) -> OptimWrapper:
        """The optimizer wrapper of ``stage`` ('prompt' or 'image'): the runner's of that name, or its only one
        for stage 2."""
        wrapper = self.runner.optim_wrapper
        if isinstance(wrapper, OptimWrapperDict):
            if stage not in wrapper.optim_wrappers:
                raise InputError(f"CLIPReIDTrainLoop: optim_wrapper has no '{stage}' "
                                 "(mmdenoiserep.CLIPReIDOptimWrapperConstructor builds 'prompt' and 'image')")
            return wrapper[stage]
        if stage == 'prompt':
            raise InputError("CLIPReIDTrainLoop: stage 1 needs optim_wrapper 'prompt' and 'image' "
                             '(mmdenoiserep.CLIPReIDOptimWrapperConstructor)')
        return wrapper

    def run_epoch(self) -> None:
        if self._epoch < self.prompt_epochs:
            self.run_prompt_epoch()
            return
        if self.model.text_features is None:  # entering stage 2 (or resuming in it)
            self.model.prompt_learner.requires_grad_(False)
            self.model.compute_text_features()
        super().run_epoch()

    def run_iter(self, idx, data_batch) -> None:
        """A stage-2 iteration: EpochBasedTrainLoop's, with the ``image`` optimizer."""
        self.runner.call_hook('before_train_iter', batch_idx=idx, data_batch=data_batch)
        outputs = self.runner.model.train_step(data_batch, optim_wrapper=self.optim_wrapper('image'))
        self.runner.call_hook('after_train_iter', batch_idx=idx, data_batch=data_batch, outputs=outputs)
        self._iter += 1

    @torch.no_grad()
    def prompt_features(self) -> Tuple[Tensor, Tensor]:
        """(N, D) image features and (N,) labels of the training set, in dataset order (extracted once)."""
        if self._prompt_features is None:
            model, features, labels = self.model, [], []
            training = model.training
            model.eval()
            for data in self.prompt_dataloader:
                data = model.data_preprocessor(data, False)
                features.append(model.image_features_for_prompts(data['inputs']))
                labels.append(torch.cat([s.gt_label for s in data['data_samples']]).to(features[-1].device))
            model.train(training)
            size = len(self.prompt_dataloader.dataset)
            self._prompt_features = (gather_in_dataset_order(torch.cat(features), size),
                                     gather_in_dataset_order(torch.cat(labels), size))
        return self._prompt_features

    def run_prompt_epoch(self) -> None:
        """A stage-1 epoch (see the module docstring)."""
        runner, model = self.runner, self.model
        optim_wrapper = self.optim_wrapper('prompt')
        self.optim_wrapper('image')  # both are needed: refuse a single optimizer before training anything
        features, labels = self.prompt_features()
        runner.call_hook('before_train_epoch')
        runner.model.train()
        generator = torch.Generator().manual_seed(derived_seed(runner.seed, 2, self._epoch))
        order = torch.randperm(len(labels), generator=generator).to(labels.device)
        for idx, batch in enumerate(order.split(self.prompt_batch_size)):
            data_batch = dict(inputs=features[batch], data_samples=labels[batch])
            runner.call_hook('before_train_iter', batch_idx=idx, data_batch=data_batch)
            with optim_wrapper.optim_context(runner.model):
                losses = runner.model(features[batch], labels[batch], mode='prompt_loss')
            loss, log_vars = model.parse_losses(losses)
            optim_wrapper.update_params(loss)
            runner.call_hook('after_train_iter', batch_idx=idx, data_batch=data_batch, outputs=log_vars)
            self._iter += 1
        runner.call_hook('after_train_epoch')
        self._epoch += 1
