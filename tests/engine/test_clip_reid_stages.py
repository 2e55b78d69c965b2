"""mmdenoiserep.CLIPReIDTrainLoop runs CLIP-ReID's two stages (processor_clipreid_stage1.py, _stage2.py) under
mmengine's Runner on the tiny Market-1501 data with a small CLIPReID: stage 1 extracts the image features once
(eval, no SIE) and trains only the identity tokens on permutations of all of them; stage 2 computes the text
features once, freezes the prompt learner and trains the image side with the 'image' optimizer; a resumed run
ends with the weights of an uninterrupted one; the optimizers hold CLIP-ReID's parameter sets."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmdenoiserep.engine.clip_reid_optim import CLIPReIDOptimWrapperConstructor
from mmdenoiserep.testing.tiny_data import make_tiny_data
from mmdenoiserep.utils import InputError, allow_mmengine_checkpoints

DATA = 'data/tiny/market1501/Market-1501-v15.09.15'  # 4 training identities x 6 images, 6 cameras
SIZE = (20, 32)  # (W, H): patch 8, stride 6 -> a 5 x 3 grid
TEST_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=SIZE),
                 dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'pid', 'camid', 'is_query'))]
TRAIN_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=SIZE),
                  dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                  dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'camid'))]


@pytest.fixture(scope='module', autouse=True)
def tiny_market():
    make_tiny_data('data/tiny', only=['market1501'])


def config(work_dir, prompt_epochs=1, max_epochs=2, single_optimizer=False) -> Config:
    dataset = dict(type='mmdenoiserep.Market1501', data_root=DATA, split='train')
    optim = dict(constructor='mmdenoiserep.CLIPReIDOptimWrapperConstructor',
                 prompt=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-2, weight_decay=1e-4)),
                 image=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-4),
                            paramwise_cfg=dict(custom_keys={'bias': dict(lr_mult=2.0)})))
    if single_optimizer:
        optim = optim['image']
    return Config(dict(
        default_scope='mmpretrain', work_dir=str(work_dir), randomness=dict(seed=3), log_level='WARNING',
        model=dict(type='mmdenoiserep.CLIPReID', num_classes=4,
                   backbone=dict(type='mmdenoiserep.CLIPImageEncoder', img_size=(32, 20), patch_size=8, stride=6,
                                 width=32, layers=2, heads=2, output_dim=16, num_cameras=6),
                   text_encoder=dict(type='mmdenoiserep.CLIPTextEncoder', width=32, layers=2, heads=2, output_dim=16),
                   data_preprocessor=dict(mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True), text_batch_size=3),
        train_dataloader=dict(batch_size=4, num_workers=0, dataset=dict(dataset, pipeline=TRAIN_PIPELINE),
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              batch_sampler=dict(type='mmdenoiserep.IdentityBatchSampler', num_instances=2)),
        train_cfg=dict(type='mmdenoiserep.CLIPReIDTrainLoop', max_epochs=max_epochs, prompt_epochs=prompt_epochs,
                       prompt_dataloader=dict(batch_size=5, num_workers=0,
                                              dataset=dict(dataset, pipeline=TEST_PIPELINE)),
                       prompt_batch_size=10),
        optim_wrapper=optim,
        default_hooks=dict(checkpoint=dict(type='mmdenoiserep.AtomicCheckpointHook', interval=1),
                           reseed=dict(type='mmdenoiserep.ReseedHook'), logger=dict(type='LoggerHook', interval=1))))


class Record(Hook):
    """Per epoch: the state at its start; per iteration: the stage-1 labels and the calls of the encoders."""

    priority = 'LOWEST'

    def __init__(self):
        self.states, self.batches, self.calls = [], [], []

    def before_run(self, runner):
        model = runner.model
        model.backbone.register_forward_pre_hook(lambda m, a: self.calls.append(('backbone', m.training)))
        model.text_encoder.register_forward_pre_hook(lambda m, a: self.calls.append(('text', a[0].shape[0])))

    def before_train_epoch(self, runner):
        self.states.append({k: v.clone() for k, v in runner.model.state_dict().items()})
        self.calls.append(('epoch', runner.epoch))

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.epoch < runner.train_loop.prompt_epochs:
            self.batches.append((runner.epoch, data_batch['data_samples'].tolist()))

    def after_train(self, runner):
        self.states.append({k: v.clone() for k, v in runner.model.state_dict().items()})


def run(cfg, record=None, resume=False):
    cfg = copy.deepcopy(cfg)
    cfg.resume = resume
    runner = Runner.from_cfg(cfg)
    if record is not None:
        runner.register_hook(record)
    runner.train()
    return runner


def changed(before, after):
    return {name.split('.')[0] if not name.startswith('prompt_learner') else name
            for name in before if not torch.equal(before[name], after[name])}


def test_stage1_then_stage2(tmp_path):
    record = Record()
    runner = run(config(tmp_path), record)
    model = runner.model
    epoch0, epoch1, end = record.states
    assert changed(epoch0, epoch1) == {'prompt_learner.cls_ctx'}  # stage 1: the identity tokens only
    assert changed(epoch1, end) == {'backbone', 'bottleneck', 'bottleneck_proj', 'classifier', 'classifier_proj'}
    assert not model.prompt_learner.cls_ctx.requires_grad

    # stage 1: every training image's features once (5 per loader batch, eval), then batches of 10 of a permutation
    stage1 = record.calls[:record.calls.index(('epoch', 1))]
    assert stage1[:6] == [('backbone', False)] * 5 + [('epoch', 0)]  # 24 images / 5 per batch
    assert [call for call in stage1[6:] if call[0] == 'backbone'] == []
    labels = [label for epoch, batch in record.batches for label in batch]
    assert [len(batch) for _, batch in record.batches] == [10, 10, 4]
    assert sorted(labels) == sorted([0, 1, 2, 3] * 6)  # every training image once per epoch

    # stage 2: the text features of the 4 identities once (chunks of 3), then the backbone per iteration
    stage2 = record.calls[record.calls.index(('epoch', 1)) - 2:]
    assert stage2[:3] == [('text', 3), ('text', 1), ('epoch', 1)]
    assert all(call[0] == 'backbone' and call[1] for call in stage2[3:])
    torch.testing.assert_close(model.text_features, model.text_features_of(torch.arange(4)))


def test_a_resumed_run_ends_as_an_uninterrupted_one(tmp_path):
    allow_mmengine_checkpoints()  # what the tools do before a run (an earlier test may have reset torch's list)
    straight = run(config(tmp_path / 'straight', prompt_epochs=2, max_epochs=3)).model.state_dict()
    resumed_cfg = config(tmp_path / 'resumed', prompt_epochs=2, max_epochs=3)
    resumed_cfg.load_from = str(tmp_path / 'straight' / 'epoch_1.pth')  # stopped after one epoch of stage 1
    resumed = run(resumed_cfg, resume=True).model.state_dict()
    assert straight.keys() == resumed.keys()
    for key in straight:  # the features extracted again, the optimizers, schedulers and epoch restored
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0, msg=key)


def test_stage2_alone_takes_a_single_optimizer_and_stage1_refuses_it(tmp_path):
    record = Record()
    run(config(tmp_path / 'control', prompt_epochs=0, max_epochs=1, single_optimizer=True), record)
    assert changed(*record.states)  # trained
    assert 'prompt_learner.cls_ctx' not in changed(*record.states)
    with pytest.raises(InputError, match="needs optim_wrapper 'prompt' and 'image'"):
        run(config(tmp_path / 'refused', single_optimizer=True))


def test_optimizers_hold_clip_reid_s_parameter_sets(tmp_path):
    model = Runner.from_cfg(config(tmp_path)).model
    parts = {name: config(tmp_path).optim_wrapper[name] for name in ('prompt', 'image')}  # mmengine pops constructor
    built = CLIPReIDOptimWrapperConstructor(parts)(model)
    names = {id(p): n for n, p in model.named_parameters()}
    held = {name: [names[id(p)] for g in w.optimizer.param_groups for p in g['params']]
            for name, w in built.optim_wrappers.items()}
    assert held['prompt'] == ['prompt_learner.cls_ctx']  # make_optimizer_1stage: 'prompt_learner' in the name
    expected = [n for n, p in model.named_parameters()
                if p.requires_grad and not n.startswith(('text_encoder.', 'prompt_learner.'))]
    assert sorted(held['image']) == sorted(expected)  # make_optimizer_2stage (the BNNeck biases are frozen)
    assert 'backbone.cv_embed' in expected and 'bottleneck.bias' not in expected
    lrs = {names[id(p)]: g['lr'] for g in built['image'].optimizer.param_groups for p in g['params']}
    for name, lr in lrs.items():  # BIAS_LR_FACTOR 2 for every name holding 'bias' (in_proj_bias, LayerNorms)
        assert lr == pytest.approx(2e-3 if 'bias' in name else 1e-3), name
    assert lrs['backbone.transformer.resblocks.0.attn.in_proj_bias'] == pytest.approx(2e-3)
    with pytest.raises(InputError, match='exactly'):
        CLIPReIDOptimWrapperConstructor(dict(prompt=dict()))
    with pytest.raises(InputError, match='inside prompt'):
        CLIPReIDOptimWrapperConstructor(dict(prompt=dict(), image=dict()), paramwise_cfg=dict(bias_lr_mult=2))
