"""DDPM linear noise schedule and the reverse-step coefficients of DenoiseRep (method.md sections 2 and 4).

beta_k = linspace(beta_start, beta_end, num_steps)[k - 1],  alpha_k = 1 - beta_k,  abar_k = prod_{j<=k} alpha_j.
The deterministic reverse step at step t is  x_hat = c3 * x - c1 * eps_hat(x)  with
c3 = 1 / sqrt(alpha_t)  and  c1 = beta_t / (sqrt(1 - abar_t) * sqrt(alpha_t)).
"""
import math
from dataclasses import dataclass
from typing import Tuple

import torch

__all__ = ['StepCoefficients', 'step_coefficients']


@dataclass(frozen=True)
class StepCoefficients:
    """Schedule values of one diffusion step t (Python floats, computed in float64), and the schedule they
    come from: ``num_steps`` and ``beta_range`` (what a checkpoint stores to fix them)."""

    step: int
    beta: float
    alpha_bar: float
    c3: float
    c1: float
    num_steps: int
    beta_range: Tuple[float, float]


def step_coefficients(step: int, num_steps: int = 1000,
                      beta_range: Tuple[float, float] = (1e-4, 2e-3)) -> StepCoefficients:
    """Coefficients of step ``step`` (1-based) of a linear DDPM schedule with ``num_steps`` steps."""
    beta_start, beta_end = (float(b) for b in beta_range)
    if not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f'num_steps must be a positive int, got {num_steps!r}')
    if not 0 < beta_start <= beta_end < 1:
        raise ValueError(f'beta_range must satisfy 0 < start <= end < 1, got {beta_range!r}')
    if not 1 <= step <= num_steps:
        raise ValueError(f'step must be in [1, {num_steps}], got {step}')
    betas = torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)
    alpha_bar = torch.cumprod(1.0 - betas, dim=0)[step - 1].item()
    beta = betas[step - 1].item()
    alpha = 1.0 - beta
    return StepCoefficients(
        step=step,
        beta=beta,
        alpha_bar=alpha_bar,
        c3=1.0 / math.sqrt(alpha),
        c1=beta / (math.sqrt(1.0 - alpha_bar) * math.sqrt(alpha)),
        num_steps=num_steps,
        beta_range=(beta_start, beta_end))
