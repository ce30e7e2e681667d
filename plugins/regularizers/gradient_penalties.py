"""Penalties on the discriminator's input gradient: WGAN-GP's ``gp``, ``dragan``, ``r1`` and ``r2``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

import ganzoo
from ganzoo import (
    CriticBatch,
    DataSpec,
    Regularizer,
    input_gradients,
    squared_gradient_norms,
)


def _per_sample(batch: torch.Tensor) -> tuple[int, ...]:
    """The shape of one random number per sample, broadcast over the rest of ``batch``."""
    return (batch.shape[0],) + (1,) * (batch.dim() - 1)


def _norm_penalty(norms: torch.Tensor, center: float, one_sided: bool) -> torch.Tensor:
    gap = norms - center
    return (gap.clamp(min=0) if one_sided else gap).pow(2).mean()


def _gradient_norms(discriminator: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor) -> torch.Tensor:
    points = points.requires_grad_(True)
    gradient = input_gradients(discriminator(points).reshape(-1), points)
    with torch.autocast(device_type=gradient.device.type, enabled=False):
        return torch.linalg.vector_norm(gradient.flatten(1), ord=2, dim=1)


class _InterpolationPenalty(nn.Module):
    """``mean((||grad D(x_hat)|| - center)^2)`` on random interpolates ``x_hat = x + eps (y - x)``."""

    def __init__(self, center: float, one_sided: bool, perturbation: float | None = None) -> None:
        super().__init__()
        self.center, self.one_sided, self.perturbation = center, one_sided, perturbation

    def forward(self, batch: CriticBatch) -> torch.Tensor:
        real = batch.real.detach()
        eps = torch.rand(_per_sample(real), device=real.device, dtype=real.dtype)
        if self.perturbation is None:  # WGAN-GP: between real and fake samples
            points = eps * real + (1 - eps) * batch.fake.detach().to(real.dtype)
        else:  # DRAGAN: between real samples and noisy copies of them
            noisy = real + self.perturbation * real.std() * torch.rand_like(real)
            points = real + eps * (noisy - real)
        return _norm_penalty(_gradient_norms(batch.discriminator, points), self.center, self.one_sided)


class GradientPenalty(Regularizer):
    """WGAN-GP's gradient penalty (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Algorithm 1).

    ``weight * mean((||grad D(x_hat)||_2 - center)^2)`` on ``x_hat = eps *
    real + (1 - eps) * fake``, one ``eps ~ U[0, 1]`` per sample; lambda = 10
    and center 1 as in the paper. ``one_sided=true`` penalises only norms
    above the center (the paper's Section 4 variant); ``center=0`` gives the
    zero-centred penalty of Thanh-Tung et al. (2019). Usable with any loss.
    """

    name = "gp"
    description = "WGAN-GP gradient penalty on real/fake interpolates (Gulrajani et al. 2017)."
    options = {"center": 1.0, "one_sided": False}
    weight = 10.0

    def build(self, spec: DataSpec, **options: Any) -> nn.Module:
        """The penalty term."""
        return _InterpolationPenalty(float(options["center"]), bool(options["one_sided"]))


class DraganPenalty(Regularizer):
    """DRAGAN (Kodali et al. 2017, "On Convergence and Stability of GANs").

    The gradient penalty ``weight * mean((||grad D(x_hat)|| - 1)^2)`` around
    the data: ``x_hat = x + alpha * (x_p - x)`` with ``x_p = x + c * std(x) *
    u``, ``u ~ U[0, 1)`` per element and ``alpha ~ U[0, 1]`` per sample, as
    the authors' reference code (github.com/kodalinaveen3/DRAGAN) does, with
    its ``c = 0.5`` (``perturbation``) and lambda = 10. ``std(x)`` is over the
    whole real batch.
    """

    name = "dragan"
    description = "DRAGAN gradient penalty around perturbed real samples (Kodali et al. 2017)."
    options = {"perturbation": 0.5, "center": 1.0}
    weight = 10.0

    def build(self, spec: DataSpec, **options: Any) -> nn.Module:
        """The penalty term."""
        return _InterpolationPenalty(float(options["center"]), False, perturbation=float(options["perturbation"]))


class _GradientSquare(nn.Module):
    """``gamma / 2 * mean(||grad D(x)||^2)`` on the real (R1) or the fake (R2) batch."""

    def __init__(self, gamma: float, on_real: bool) -> None:
        super().__init__()
        self.gamma, self.on_real = gamma, on_real

    def forward(self, batch: CriticBatch) -> torch.Tensor:
        samples = (batch.real if self.on_real else batch.fake).detach().requires_grad_(True)
        gradient = input_gradients(batch.discriminator(samples).reshape(-1), samples)
        return self.gamma / 2 * squared_gradient_norms(gradient).mean()


class R1Penalty(Regularizer):
    """R1 (Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually Converge?", eq. 9).

    ``gamma / 2 * E_real ||grad_x D(x)||^2``, weight 1 (the strength is
    ``gamma``; 10 is the reference code's default, StyleGAN2 uses 0.01-10 by
    resolution). StyleGAN2's lazy form is ``every=16``.
    """

    name = "r1"
    description = "R1 penalty: gamma/2 * E||grad D(real)||^2 (Mescheder et al. 2018)."
    options = {"gamma": 10.0}

    def build(self, spec: DataSpec, **options: Any) -> nn.Module:
        """The penalty term."""
        return _GradientSquare(float(options["gamma"]), on_real=True)


class R2Penalty(Regularizer):
    """R2 (Mescheder et al. 2018, eq. 10): ``gamma / 2 * E_fake ||grad_x D(x)||^2`` on generated samples."""

    name = "r2"
    description = "R2 penalty: gamma/2 * E||grad D(fake)||^2 (Mescheder et al. 2018)."
    options = {"gamma": 10.0}

    def build(self, spec: DataSpec, **options: Any) -> nn.Module:
        """The penalty term."""
        return _GradientSquare(float(options["gamma"]), on_real=False)


@ganzoo.hookimpl
def register_regularizers(register: Callable[[Regularizer], None]) -> None:
    """Register ``gp``, ``dragan``, ``r1`` and ``r2``."""
    for regularizer in (GradientPenalty(), DraganPenalty(), R1Penalty(), R2Penalty()):
        register(regularizer)
