"""``mmdenoiserep.PostBackboneDenoiser``: one DenoiseRep denoising step on the backbone's output feature, unfused.

The paper's parameter-fusion ablation (the slides' "Analysis of Parameter Fusion": TransReID-SSL ViT-S with one
denoising layer after the backbone, 0.39 s inference against 0.34 s, versus DenoiseRep in every layer, fused,
0.34 s). A neck between the backbone and the head (mmpretrain's ``ImageClassifier``: ``backbone -> neck -> head``)
that replaces the backbone's last output f (N, C), the feature the BNNeck head reads, by

    x_hat = c3 f - c1 (A f + a)          (method.md section 4; t = 1, the last step of the schedule)

with the affine denoiser (A, a) trained by the noise-prediction loss of method.md section 3 on f
(f_t = sqrt(abar_1) f + sqrt(1 - abar_1) eps, target eps), lambda and phases from `mmdenoiserep.DenoiseRepHook`.
A chain of one denoising layer gets t = L = 1 (method.md section 2).

Why it stays unfused: method.md section 4 folds a denoiser into the layer that consumes its output,
y = W x_hat + b. At test time nothing consumes x_hat: it is the re-id feature itself (``test_feature=
'before_bn'``: ReIDMetric reads f; the BNNeck norm and the classifier run in training only). Nor does it fold
backwards: f is the output of the backbone's final LayerNorm, whose affine part is diagonal while
c3 I - c1 A is a full C x C matrix, and the normalisation before it is not linear. (With ``'after_bn'`` the
eval BatchNorm is diagonal too; the classifier could absorb it, but its logits are no test output.) So the
deployed model is the baseline plus one C x C matrix product: ``tools/fuse_ckpt.py`` refuses such a config,
and its checkpoints are tested unfused with their own config.

Implementation: a `mmdenoiserep.DenoisingLinear` whose own layer is the identity (W = I, b = 0, frozen and
reset by ``init_weights``). Its fused weights W' = c3 I - c1 A, b' = -c1 a are exactly the step above, and
its phases are DenoiseRep's: in the denoise phase it passes f through unchanged and records it for the loss;
in the finetune phase and at test time it computes x_hat (in eval mode W' is computed once and reused). So
DenoiseRepHook, the optimizer's ``denoiser_lr_mult`` and the checkpoint checks apply unchanged. DenoiseRepHook
runs the full forward in the denoise phase (the layer is outside ``model.backbone``; the head's losses train
nothing there, its BatchNorm statistics stay frozen) and logs that once per denoise phase.
"""
from typing import Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor

from ..core import DenoisingLinear, step_coefficients
from ..registry import MODELS
from ..utils import InputError

__all__ = ['PostBackboneDenoiser']


@MODELS.register_module()
class PostBackboneDenoiser(BaseModule):
    """Neck: ``(..., f) -> (..., x_hat)``, x_hat = c3 f - c1 (A f + a) on the last backbone output f (N, C).

    Args:
        in_channels (int): C, the channels of f.
        num_steps (int): DDPM schedule length. Defaults to 1000 (method.md section 2).
        beta_range (tuple[float, float]): (beta_start, beta_end). Defaults to (1e-4, 2e-3).
        noise_loss (str): 'l1+l2', 'l1' or 'l2'. Defaults to 'l1+l2'.
        init_cfg (dict, optional): mmengine's. Defaults to None.

    Examples:
        >>> model = dict(type='ImageClassifier', backbone=dict(...),
        ...              neck=dict(type='mmdenoiserep.PostBackboneDenoiser', in_channels=384), head=dict(...))
    """

    def __init__(self, in_channels: int, num_steps: int = 1000, beta_range: Sequence[float] = (1e-4, 2e-3),
                 noise_loss: str = 'l1+l2', init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if not isinstance(in_channels, int) or isinstance(in_channels, bool) or in_channels < 1:
            raise InputError(f'PostBackboneDenoiser: in_channels must be a positive int, got {in_channels!r}')
        coefficients = step_coefficients(1, num_steps, tuple(beta_range))  # the only layer of its chain: t = 1
        self.reverse_step = DenoisingLinear(in_channels, in_channels, coefficients, noise_loss=noise_loss)
        self.reverse_step.weight.requires_grad_(False)
        self.reverse_step.bias.requires_grad_(False)
        self._reset_identity()

    @torch.no_grad()
    def _reset_identity(self) -> None:
        """W = I, b = 0: the layer that carries the denoiser computes nothing of its own."""
        self.reverse_step.weight.copy_(torch.eye(self.reverse_step.in_features))
        self.reverse_step.bias.zero_()

    def init_weights(self) -> None:
        """mmengine's initialisation (none of its own), then W = I, b = 0 again: an init_cfg that matches
        Linear layers (by class, bases included) must not give the identity random weights."""
        super().init_weights()
        self._reset_identity()

    def forward(self, inputs: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
        """The backbone's outputs with the last, f (N, C), denoised (denoise phase: f as it is)."""
        outputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
        feature = outputs[-1]
        if feature.dim() != 2 or feature.shape[1] != self.reverse_step.in_features:
            raise InputError(f'PostBackboneDenoiser: expected the last backbone output of shape (N, '
                             f'{self.reverse_step.in_features}), got {tuple(feature.shape)}')
        return outputs[:-1] + (self.reverse_step(feature),)
