# SwinV2-T (window 8, 256px) on ImageNet-1k: the DenoiseRep baseline, mmpretrain's stock config (16 GPUs x 64 =
# 1024 images, its auto_scale_lr base) with the authors' seed.
# Paper (method.md section 6): acc@1 81.82 -> 82.13 with DenoiseRep. The window-8 config matches (the
# official SwinV2-T/8 figure is 81.8; mmpretrain reports 81.76 for it; window 16 gives 82.81).
_base_ = ['mmpretrain::swin_transformer_v2/swinv2-tiny-w8_16xb64_in1k-256px.py', './_base_/denoiserep_runtime.py']
default_hooks = {{_base_.denoiserep_default_hooks}}  # atomic checkpoints, reseeding, checkpoint checks
randomness = dict(seed=0, diff_rank_seed=True, deterministic=False)  # the authors' main.py: SEED 0 + rank
