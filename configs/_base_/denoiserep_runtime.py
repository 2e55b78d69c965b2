# What every config of this project declares to run safely under any OpenMMLab runner (tools/train.py,
# tools/test.py, the toolboxes' own tools, `mim train`, mmengine's plain `Runner.from_cfg(cfg).train()`):
# - custom_imports: importing mmdenoiserep registers its types (and allowlists mmengine checkpoints for
#   torch's weights_only loading);
# - denoiserep_default_hooks, which the configs that inherit a stock config take as their default_hooks
#   (`default_hooks = _base_.denoiserep_default_hooks`, merged key by key into the stock ones): mmengine
#   refuses a key that two bases both define, and the stock bases define default_hooks.
#   checkpoint: AtomicCheckpointHook, the stock CheckpointHook's arguments and priority (VERY_LOW), each
#     checkpoint and the last_checkpoint pointer written to a temporary file and renamed into place;
#   reseed: ReseedHook (VERY_HIGH), random numbers seeded from (run seed, epoch or iteration), so a resumed
#     run draws those of an uninterrupted one;
#   unfused_checkpoint_check: UnfusedCheckpointCheckHook (VERY_HIGH), refuses an unfused DenoiseRep
#     checkpoint loaded into a model without denoisers;
#   fused_checkpoint_check: FusedCheckpointCheckHook (VERY_HIGH), refuses, outside training, a checkpoint
#     without denoiser weights loaded into a model with denoisers.
custom_imports = dict(imports=['mmdenoiserep'], allow_failed_imports=False)
denoiserep_default_hooks = dict(
    checkpoint=dict(type='mmdenoiserep.AtomicCheckpointHook'),
    reseed=dict(type='mmdenoiserep.ReseedHook'),
    unfused_checkpoint_check=dict(type='mmdenoiserep.UnfusedCheckpointCheckHook'),
    fused_checkpoint_check=dict(type='mmdenoiserep.FusedCheckpointCheckHook'),
    non_finite_check=dict(type='mmdenoiserep.NonFiniteCheckHook'),  # NaN/Inf: stop before the step, save nothing
)
