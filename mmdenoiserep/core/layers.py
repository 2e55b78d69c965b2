"""Denoising Linear and Conv2d: a layer plus an affine denoiser that fuses into it exactly.

DenoiseRep (Xu et al., NeurIPS 2024) reads embedding layer i as reverse step t_i of a diffusion chain:
its input x is cleaned by x_hat = c3 x - c1 (A x + a) before the layer consumes it, and the affine
denoiser (A, a) is trained with the DDPM noise-prediction loss on x. Implementation choices
(method.md): A acts on the channel dimension (Conv2d: a block-diagonal 1x1 conv with the layer's groups,
applied to the padded input so fusion is exact); a bias-free layer gets a bias-free denoiser; the
denoiser lives under the `denoiser.` prefix so that a fused state_dict has the stock keys only.

Phases (method.md section 5), set with `mmdenoiserep.set_phase`:
    denoise:  output = the original layer on the raw input (W, b); only the loss trains the denoiser.
    finetune: output = the fused layer (W', b' computed on the fly, differentiable in W and b).
    joint:    output = the fused layer; W, b and the denoiser all train.
Every training call in the denoise and joint phases records its (detached) input; `pop_noise_loss` turns
the recorded calls into the noise-prediction loss, sum over the calls, and forgets them. Computing the
loss when it is collected, not inside the layer's forward, keeps it trainable under gradient
checkpointing (reentrant checkpointing runs the first forward under no_grad) and counts every call of a
layer used twice in one forward; calls re-run by checkpointing during backward are not recorded. In eval
mode the layer always computes the fused path and records nothing.

W' costs a C x C product per forward. In eval mode a layer computes W', b' once and reuses them while they
need no gradient (under ``torch.no_grad()`` or ``torch.inference_mode()``, or with W, b, A, a all frozen),
until W, b, A or a change: replaced, converted (dtype, device) or modified in place (the tensor's version
counter: optimizer steps, ``load_state_dict``, ``copy_``), or until ``train()``/``eval()`` is called. So
``model.eval()`` and a forward under ``torch.no_grad()`` costs what the fused model costs, after the first
forward. Training mode (every phase), a forward that needs gradients of W, b, A or a, and tracing
(``torch.jit.trace``, ``torch.compile``, ``torch.export``) compute W', b' in every forward. The kept W', b'
take the memory of the converted layers' weights once more.
Writes through ``.data`` bypass the version counter and are not seen (mmengine's EMAHook swaps weights that
way, before its loop's ``model.eval()``): after such a write call ``model.eval()`` again, or turn the reuse
off: ``with fused_weights_cached(model, enabled=False):`` (`convert.py`) for a block, or
``layer.reuse_fused_weights = False`` on each layer of ``denoising_layers(model)`` for good.

A checkpoint carries each layer's step and schedule: the denoiser's state_dict entry
``<layer>.denoiser._extra_state`` (`schedule_state`: a float64 tensor of num_steps, beta_start, beta_end,
the step t and the noise loss's code) is written with its weights, and loading it into a layer whose
num_steps, beta_range or step differ raises InputError (a ValueError; the tools print it as one line)
naming the layer and both values, strict or not (mmengine's ``load_checkpoint`` included). A state_dict
without it (a baseline checkpoint, ``load_from``) loads as before. The noise loss is recorded, not checked:
it trains the denoiser and fuses into nothing. The entry lives under ``denoiser.``, so a fused state_dict
still has exactly the stock keys.

The noise-prediction loss can be estimated on a random subset of positions (``positions`` < 1, a
fraction of the N*H*W or N*L input positions, every channel of each): the mean over a uniformly drawn
subset of fixed size is an unbiased estimate of the full loss (a mean over the positions) at a fraction
of its C x C cost.
"""
import operator
from contextlib import nullcontext
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils.errors import InputError
from .fusion import fuse_denoiser_weights
from .schedule import StepCoefficients

__all__ = ['PHASES', 'NOISE_LOSSES', 'SCHEDULE_STATE_FIELDS', 'AffineDenoiser', 'DenoisingLayer',
           'DenoisingLinear', 'DenoisingConv2d', 'parse_schedule_state', 'schedule_state']

PHASES = ('denoise', 'finetune', 'joint')
NOISE_LOSSES = {
    'l1+l2': lambda pred, target: F.l1_loss(pred, target) + F.mse_loss(pred, target),
    'l1': F.l1_loss,
    'l2': F.mse_loss,
}
#: The noise losses by their code in `schedule_state` (a code keeps its meaning: append new losses only).
NOISE_LOSS_CODES = ('l1+l2', 'l1', 'l2')
#: The values of a layer's stored schedule, in the order of `schedule_state`.
SCHEDULE_STATE_FIELDS = ('num_steps', 'beta_start', 'beta_end', 'step', 'noise_loss')
#: The values whose mismatch refuses a checkpoint (they fix c3, c1 and so the fused weights).
CHECKED_FIELDS = ('num_steps', 'beta_range', 'step')


def schedule_state(schedule: StepCoefficients, noise_loss: str) -> Tensor:
    """A layer's step and schedule as checkpoints store them: a float64 tensor (num_steps, beta_start, beta_end,
    step, code of the noise loss in ``NOISE_LOSS_CODES``). A tensor, so that every checkpoint value stays one
    (``torch.load(weights_only=True)``, mmengine's and this project's checkpoint readers); float64 holds the
    Python floats and ints exactly."""
    return torch.tensor([schedule.num_steps, *schedule.beta_range, schedule.step, NOISE_LOSS_CODES.index(noise_loss)],
                        dtype=torch.float64)


def parse_schedule_state(state) -> dict:
    """The dict (num_steps, beta_range, step, noise_loss) of a `schedule_state` tensor; ValueError if it is none."""
    if not torch.is_tensor(state) or state.shape != (len(SCHEDULE_STATE_FIELDS),):
        shape = tuple(state.shape) if torch.is_tensor(state) else type(state).__name__
        raise ValueError(f'a stored schedule is a tensor of {len(SCHEDULE_STATE_FIELDS)} values '
                         f'({", ".join(SCHEDULE_STATE_FIELDS)}), got {shape}')
    num_steps, beta_start, beta_end, step, code = state.tolist()
    noise_loss = NOISE_LOSS_CODES[int(code)] if 0 <= code < len(NOISE_LOSS_CODES) else f'unknown ({code:g})'
    return dict(num_steps=int(num_steps), beta_range=(beta_start, beta_end), step=int(step), noise_loss=noise_loss)


def _schedule_text(schedule: dict) -> str:
    return ', '.join(f'{field}={schedule[field]!r}' for field in CHECKED_FIELDS)


def check_schedule_state(state, schedule: StepCoefficients, name: str) -> None:
    """InputError, a ValueError that the tools print as one line, naming ``name`` and both values, unless
    ``state`` stores ``schedule``'s num_steps, beta_range and step."""
    try:
        stored = parse_schedule_state(state)
    except ValueError as error:
        raise InputError(f'{name}: {error}') from None
    own = dict(num_steps=schedule.num_steps, beta_range=tuple(schedule.beta_range), step=schedule.step)
    if any(stored[field] != own[field] for field in CHECKED_FIELDS):
        raise InputError(f"{name}: checkpoint schedule {_schedule_text(stored)} differs from the model's "
                         f'{_schedule_text(own)}')


#: Whether torch.compile / torch.export runs the forward (torch >= 2.3; before, never seen as compiling).
_compiling = getattr(torch.compiler, 'is_compiling', lambda: False)


def _recomputing_in_backward() -> bool:
    """Whether this forward runs inside a backward pass: gradient checkpointing re-running a forward.

    The autograd engine's current graph task is -1 outside backward (torch.utils.checkpoint asks the same).
    """
    graph_task_id = getattr(torch._C, '_current_graph_task_id', None)
    return graph_task_id is not None and graph_task_id() != -1


class AffineDenoiser(nn.Module):
    """eps_hat = A x + a on the channel dimension; A is block-diagonal with ``groups`` blocks.

    Args:
        channels: C, the number of input channels of the layer it serves.
        groups: g; ``weight`` A has shape (C, C/g), row j mapping the C/g channels of its group.
        bias: whether a (shape (C,)) exists.
        channel_dim: 1 for (N, C, H, W) inputs, -1 for (..., C) inputs.
        schedule, noise_loss: the step and loss of the layer it serves, stored in its state_dict
            (``_extra_state``, see `schedule_state`; none if ``schedule`` is None).
    """

    def __init__(self, channels: int, groups: int = 1, bias: bool = True, channel_dim: int = -1,
                 device=None, dtype=None, schedule: Optional[StepCoefficients] = None, noise_loss: str = 'l1+l2'):
        super().__init__()
        self.groups = groups
        self.channel_dim = channel_dim
        self.schedule = schedule
        self.noise_loss = noise_loss
        factory = dict(device=device, dtype=dtype)
        # Zero init: the denoiser starts by predicting no noise, so x_hat = c3 x.
        self.weight = nn.Parameter(torch.zeros(channels, channels // groups, **factory))
        self.bias = nn.Parameter(torch.zeros(channels, **factory)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if self.channel_dim == 1:
            return F.conv2d(x, self.weight[:, :, None, None], self.bias, groups=self.groups)
        return F.linear(x, self.weight, self.bias)

    def forward_rows(self, rows: Tensor) -> Tensor:
        """eps_hat of (K, C) rows of input positions (channels last), whatever ``channel_dim``."""
        if self.groups == 1:
            return F.linear(rows, self.weight, self.bias)
        k, channels = rows.shape
        per_group = channels // self.groups
        out = torch.einsum('kgi,gji->kgj', rows.reshape(k, self.groups, per_group),
                           self.weight.reshape(self.groups, per_group, per_group)).reshape(k, channels)
        return out if self.bias is None else out + self.bias

    def get_extra_state(self) -> Tensor:
        """`schedule_state` of the layer's step (an empty tensor without a schedule)."""
        if self.schedule is None:
            return torch.zeros(0, dtype=torch.float64)
        return schedule_state(self.schedule, self.noise_loss)

    def set_extra_state(self, state) -> None:
        """Accept a stored schedule equal to this one (num_steps, beta_range, step); else ValueError.
        (A DenoisingLayer checks it first, under its own name.)"""
        if self.schedule is None:
            if not (torch.is_tensor(state) and state.numel() == 0):
                raise ValueError('denoiser: a stored schedule given to a denoiser that has none')
            return
        check_schedule_state(state, self.schedule, 'denoiser')

    def extra_repr(self) -> str:
        return f'channels={self.weight.shape[0]}, groups={self.groups}, bias={self.bias is not None}'


class DenoisingLayer:
    """Mixin holding what DenoisingLinear and DenoisingConv2d share: step, phase, loss and fusion.

    A subclass derives from this mixin and then its stock class, and provides ``_layer_forward(x, weight,
    bias)`` (the stock computation), ``groups``, ``_channel_dim`` and ``layer_kwargs(layer)`` (the stock
    constructor's arguments, read off a layer).
    """

    denoiser: AffineDenoiser
    weight: Tensor
    bias: Optional[Tensor]
    groups: int
    _channel_dim: int

    def _init_denoising(self, coefficients: StepCoefficients, noise_loss: str):
        if noise_loss not in NOISE_LOSSES:
            raise ValueError(f'noise_loss must be one of {sorted(NOISE_LOSSES)}, got {noise_loss!r}')
        self.phase = 'joint'
        self.recorded_inputs: List[Tensor] = []  # detached inputs of the training calls not yet collected
        self.zero_predictor_loss: Optional[Tensor] = None  # set by pop_noise_loss
        self.reuse_fused_weights = True  # reuse W' in eval mode (module docstring); False: opt out
        self._fused_cache = None  # (sources, key, (W', b')): see _reusable_fused_weights
        self._reset_denoiser(coefficients, noise_loss)

    def _reset_denoiser(self, schedule: StepCoefficients, noise_loss: str):
        self.denoiser = AffineDenoiser(
            self.weight.shape[1] * self.groups, self.groups, bias=self.bias is not None,
            channel_dim=self._channel_dim, device=self.weight.device, dtype=self.weight.dtype,
            schedule=schedule, noise_loss=noise_loss)

    @property
    def schedule(self) -> StepCoefficients:
        """This layer's step t and its schedule (stored in checkpoints: see the module docstring)."""
        return self.denoiser.schedule

    @property
    def noise_loss(self) -> str:
        """The noise-prediction loss, a key of ``NOISE_LOSSES``."""
        return self.denoiser.noise_loss

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """nn.Module's, after refusing a stored schedule that differs from this layer's (ValueError naming the
        layer by its key prefix, raised also by non-strict loads, which only collect key errors)."""
        state = state_dict.get(prefix + 'denoiser._extra_state')
        if state is not None:
            check_schedule_state(state, self.schedule, prefix[:-1] or type(self).__name__)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @classmethod
    def plain_type(cls) -> type:
        """The stock class this layer fuses into by default: nn.Linear or nn.Conv2d (`from_plain` records
        the converted layer's own class, e.g. a subclass, which `to_plain` prefers)."""
        return next(base for base in cls.__mro__ if base in (nn.Linear, nn.Conv2d))

    @classmethod
    def from_plain(cls, layer: nn.Module, coefficients: StepCoefficients, noise_loss: str = 'l1+l2'):
        """Wrap ``layer``, reusing its ``weight`` and ``bias`` Parameter objects (no copy)."""
        # built on the meta device: no memory and no random draws for Parameters replaced at once
        new = cls(**cls.layer_kwargs(layer), coefficients=coefficients, noise_loss=noise_loss, device='meta')
        new.weight, new.bias = layer.weight, layer.bias
        new.plain_class = type(layer)  # e.g. mmcv's wrappers or nn.MultiheadAttention's out_proj class
        new._reset_denoiser(coefficients, noise_loss)
        return new.train(layer.training)

    def to_plain(self) -> nn.Module:
        """The stock layer (the class converted by `from_plain`) holding W', b' as new Parameters."""
        plain_class = getattr(self, 'plain_class', None) or self.plain_type()
        plain = plain_class(**self.layer_kwargs(self), device='meta')  # Parameters replaced below
        weight, bias = self.fused_weights()
        plain.weight = nn.Parameter(weight.detach().clone(), self.weight.requires_grad)
        if bias is not None:
            plain.bias = nn.Parameter(bias.detach().clone(), self.bias.requires_grad)
        return plain.train(self.training)

    @property
    def step(self) -> int:
        """t, this layer's diffusion step (L for the first layer executed, 1 for the last)."""
        return self.schedule.step

    @property
    def coefficients(self) -> Tuple[float, float]:
        """(c3, c1) of the reverse step x_hat = c3 x - c1 eps_hat(x)."""
        return self.schedule.c3, self.schedule.c1

    def predict_noise(self, x: Tensor) -> Tensor:
        """eps_hat(x) = A x + a, same shape as x."""
        return self.denoiser(x)

    def fused_weights(self) -> Tuple[Tensor, Optional[Tensor]]:
        """(W', b') of the fused layer, differentiable in W, b and the denoiser. Computed in the
        parameters' dtype also under autocast (AMP): the layer's own op casts W' afterwards, as it casts W."""
        c3, c1 = self.coefficients
        device = self.weight.device.type
        with torch.autocast(device, enabled=False) if torch.amp.is_autocast_available(device) else nullcontext():
            return fuse_denoiser_weights(self.weight, self.bias, self.denoiser.weight, self.denoiser.bias,
                                         c3, c1, self.groups)

    def noise_prediction_loss(self, x: Tensor, positions: float = 1.0) -> Tensor:
        """DDPM loss on the layer input: x_t = sqrt(abar_t) x + sqrt(1 - abar_t) eps, target eps.

        ``x`` is detached: the loss trains the denoiser only, never the layers before it. ``positions``
        in (0, 1]: the loss is taken over that fraction of the input's positions (at least one), drawn
        uniformly without replacement, all channels of each: an unbiased estimate of the full loss.
        """
        return self._noise_losses(x, positions)[0]

    def _noise_losses(self, x: Tensor, positions: float) -> Tuple[Tensor, Tensor]:
        """(loss of the denoiser, detached loss of the zero predictor eps_hat = 0) on the same noise eps.

        The zero predictor is the initial state (A = 0, a = 0); the ratio of the two says what the
        denoiser learned (1.0: nothing; method.md section 7). Under 'l1+l2' the zero predictor scores
        mean|eps| + mean eps^2, about sqrt(2/pi) + 1 = 1.798.
        """
        if not 0.0 < positions <= 1.0:
            raise ValueError(f'positions must be in (0, 1], got {positions!r}')
        x = x.detach()
        abar = self.schedule.alpha_bar
        if positions < 1.0:
            x = self._sample_rows(x, positions)  # (K, C); only these rows are noised and predicted
        noise = torch.randn_like(x)
        noisy = abar ** 0.5 * x + (1.0 - abar) ** 0.5 * noise
        predicted = self.denoiser.forward_rows(noisy) if positions < 1.0 else self.predict_noise(noisy)
        criterion = NOISE_LOSSES[self.noise_loss]
        return criterion(predicted, noise), criterion(torch.zeros_like(noise), noise).detach()

    def _sample_rows(self, x: Tensor, positions: float) -> Tensor:
        """(K, C): the channel vectors of K = round(positions * P) of x's P positions (at least one),
        drawn uniformly without replacement (torch.randperm), in the order drawn. Gathers only those
        K x C values: no copy of the whole input. ``x``: (..., C) for a linear layer, ([N,] C, H, W) for a
        conv (unbatched too, as ``F.conv2d`` takes it)."""
        if self._channel_dim == -1:  # (..., C)
            flat = x.reshape(-1, x.shape[-1])
            keep = torch.randperm(flat.shape[0], device=x.device)[:max(1, round(positions * flat.shape[0]))]
            return flat[keep]
        per_sample = x.reshape(-1, x.shape[-3], x.shape[-2] * x.shape[-1])  # (N, C, H*W); N = 1 if unbatched
        count = per_sample.shape[0] * per_sample.shape[2]
        keep = torch.randperm(count, device=x.device)[:max(1, round(positions * count))]
        return per_sample[keep // per_sample.shape[2], :, keep % per_sample.shape[2]]  # (K, C)

    def pop_noise_loss(self, positions: float = 1.0) -> Optional[Tensor]:
        """Noise-prediction loss summed over the recorded calls (None if there are none); forgets them.

        Also sets ``zero_predictor_loss``: the detached loss of the zero predictor on the same noise,
        summed over the same calls (None without calls), the reference of ``loss / zero_predictor_loss``.
        """
        inputs, self.recorded_inputs = self.recorded_inputs, []
        if not inputs:
            self.zero_predictor_loss = None
            return None
        losses, references = zip(*(self._noise_losses(x, positions) for x in inputs))
        self.zero_predictor_loss = torch.stack(references).sum()
        return torch.stack(losses).sum()

    def record_call(self, x: Tensor) -> None:
        """Record ``x``, an input the layer's weight is applied to, for the noise-prediction loss: in
        training, in the denoise and joint phases (finetune freezes the denoiser: its loss would cost a
        C x C product per input for nothing), unless checkpointing re-runs the forward in backward."""
        if self.training and self.phase != 'finetune' and not _recomputing_in_backward():
            self.recorded_inputs.append(x.detach())

    def phase_weights(self) -> Tuple[Tensor, Optional[Tensor]]:
        """The (weight, bias) the layer applies now: (W, b) in training in the denoise phase, else (W', b')
        (in eval mode reused across forwards while ``reuse_fused_weights``: see the module docstring)."""
        if self.training:
            return (self.weight, self.bias) if self.phase == 'denoise' else self.fused_weights()
        if self.reuse_fused_weights:
            return self._reusable_fused_weights()
        return self.fused_weights()

    def train(self, mode: bool = True):
        """nn.Module.train, dropping the reused W', b' (``model.eval()`` starts afresh)."""
        self._fused_cache = None
        return super().train(mode)

    def _fusion_sources(self) -> Tuple[Optional[Tensor], ...]:
        return self.weight, self.bias, self.denoiser.weight, self.denoiser.bias

    def _reusable_fused_weights(self) -> Tuple[Tensor, Optional[Tensor]]:
        """(W', b'), computed once and reused while W, b, A and a are the same tensors (identity, version
        counter, storage, dtype, device, requires_grad) and no gradient is needed. Computed afresh, never
        kept, when a gradient is needed, under a tracer, or for inference tensors (no version counter).
        Kept as normal tensors also when computed under inference mode, so that a later forward outside it
        can use them. W' and b' carry the requires_grad flag of W and b, as the fused layer's Parameters do:
        torch.matmul picks its kernel by it (a 3-D input folded into one mm, or a bmm: MiT-b0's cached eval
        went from 1.043x to 1.015x the baseline's time with the flags)."""
        sources = self._fusion_sources()
        present = [t for t in sources if t is not None]
        if (torch.jit.is_tracing() or _compiling() or any(t.is_inference() for t in present)
                or (torch.is_grad_enabled() and any(t.requires_grad for t in present))):
            return self.fused_weights()
        key = tuple(None if t is None else (t._version, t.data_ptr(), t.dtype, t.device, t.requires_grad)
                    for t in sources)
        cached = self._fused_cache  # (sources, key, (W', b'))
        if cached is None or cached[1] != key or not all(map(operator.is_, cached[0], sources)):
            with torch.inference_mode(False), torch.no_grad():
                weight, bias = self.fused_weights()
                weight.requires_grad_(self.weight.requires_grad)
                if bias is not None:
                    bias.requires_grad_(self.bias.requires_grad)
            self._fused_cache = cached = (sources, key, (weight, bias))
        return cached[2]

    def forward(self, x: Tensor) -> Tensor:
        self.record_call(x)
        return self._layer_forward(x, *self.phase_weights())

    def extra_repr(self) -> str:
        c3, c1 = self.coefficients
        return f'{super().extra_repr()}, step={self.step}, c3={c3:.6g}, c1={c1:.6g}, phase={self.phase}'


class DenoisingLinear(DenoisingLayer, nn.Linear):
    """nn.Linear with an affine denoiser on its (..., C) input; fuses into nn.Linear."""

    groups = 1
    _channel_dim = -1

    def __init__(self, in_features: int, out_features: int, coefficients: StepCoefficients,
                 bias: bool = True, noise_loss: str = 'l1+l2', device=None, dtype=None):
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self._init_denoising(coefficients, noise_loss)

    @staticmethod
    def layer_kwargs(layer: nn.Linear) -> dict:
        """The nn.Linear constructor's arguments that rebuild ``layer``'s shape (no weights, device or dtype)."""
        return dict(in_features=layer.in_features, out_features=layer.out_features,
                    bias=layer.bias is not None)

    def _layer_forward(self, x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
        return F.linear(x, weight, bias)


class DenoisingConv2d(DenoisingLayer, nn.Conv2d):
    """nn.Conv2d with an affine denoiser on its padded (N, C, H, W) input; fuses into nn.Conv2d.

    Two-branch form: pad x (the layer's padding and padding_mode), x_hat = c3 x_p - c1 (A x_p + a),
    convolve x_hat with W, b and no padding. Fused form: the stock conv with W', b'. Equal for every
    kernel size, stride, padding, padding mode, dilation and groups.
    """

    _channel_dim = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, coefficients: StepCoefficients,
                 stride=1, padding=0, dilation=1, groups: int = 1, bias: bool = True,
                 padding_mode: str = 'zeros', noise_loss: str = 'l1+l2', device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode,
                         device=device, dtype=dtype)
        self._init_denoising(coefficients, noise_loss)

    @staticmethod
    def layer_kwargs(layer: nn.Conv2d) -> dict:
        """The nn.Conv2d constructor's arguments that rebuild ``layer``'s shape (no weights, device or dtype)."""
        return dict(in_channels=layer.in_channels, out_channels=layer.out_channels,
                    kernel_size=layer.kernel_size, stride=layer.stride, padding=layer.padding,
                    dilation=layer.dilation, groups=layer.groups, bias=layer.bias is not None,
                    padding_mode=layer.padding_mode)

    def _layer_forward(self, x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
        return self._conv_forward(x, weight, bias)
