"""Wasserstein GAN with gradient penalty."""

from __future__ import annotations

from collections.abc import Callable

import torch

import ganzoo
from ganzoo import Loss


class WassersteinGPLoss(Loss):
    """WGAN-GP (Gulrajani et al., 2017, "Improved Training of Wasserstein GANs").

    The critic estimates the Wasserstein-1 distance ``E[D(real)] - E[D(fake)]``
    and is kept close to 1-Lipschitz by penalising ``(||grad D(x_hat)|| - 1)^2``
    on random interpolates ``x_hat`` between real and fake samples
    (Algorithm 1). The defaults are the paper's: 5 critic steps per generator
    step, Adam with lr 1e-4 and betas (0, 0.9), and no batch norm in the critic,
    since it couples the samples whose per-sample gradients are penalised.

    Attributes:
        gp_weight: the penalty coefficient lambda (10 in the paper).
    """

    name = "wgan-gp"
    description = "Wasserstein loss with gradient penalty (WGAN-GP; Gulrajani et al. 2017)."
    defaults = {
        "n_critic": 5,
        "lr_g": 1e-4,
        "lr_d": 1e-4,
        "betas": (0.0, 0.9),
        "architecture_options": {"discriminator_batch_norm": False},
    }

    def __init__(self, gp_weight: float = 10.0) -> None:
        self.gp_weight = gp_weight

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """The negated Wasserstein estimate, ``mean(fake_logits) - mean(real_logits)``.

        Args:
            real_logits: the critic's outputs on real samples, shape ``(N,)``.
            fake_logits: the critic's outputs on generated samples, shape ``(M,)``.

        Returns:
            The scalar loss to minimise.
        """
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """``-mean(fake_logits)``.

        Args:
            fake_logits: the critic's outputs on generated samples, shape ``(N,)``.

        Returns:
            The scalar loss to minimise.
        """
        return -fake_logits.mean()

    def penalty(
        self,
        discriminator: Callable[[torch.Tensor], torch.Tensor],
        real: torch.Tensor,
        fake: torch.Tensor,
    ) -> torch.Tensor:
        """The two-sided gradient penalty ``gp_weight * mean((||grad D(x_hat)||_2 - 1)^2)``.

        ``x_hat = eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1]``
        per sample. The gradient is built with ``create_graph=True`` so the
        penalty backpropagates into the critic's parameters. Safe under
        ``torch.autocast``: the norm is computed in float32 at least.

        Args:
            discriminator: maps a batch of samples to logits ``(N,)`` or ``(N, 1)``.
            real: the real batch, ``(N, *shape)``.
            fake: the generated batch, ``(N, *shape)``.

        Returns:
            A scalar tensor, float32 (float64 when the samples are float64).
        """
        real = real.detach()
        eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        eps = torch.rand(eps_shape, device=real.device, dtype=real.dtype)
        x_hat = (eps * real + (1 - eps) * fake.detach().to(real.dtype)).requires_grad_(True)
        logits = discriminator(x_hat).reshape(-1)
        # Samples are independent, so the gradient of the sum w.r.t. x_hat[i]
        # is the gradient of the i-th logit alone.
        (grad,) = torch.autograd.grad(outputs=logits.sum(), inputs=x_hat, create_graph=True)
        # In half precision the sum of squares over thousands of pixels can
        # overflow or round away the "- 1", so the norm is taken in float32 at least.
        with torch.autocast(device_type=grad.device.type, enabled=False):
            grad = grad.to(torch.promote_types(grad.dtype, torch.float32))
            grad_norm = torch.linalg.vector_norm(grad.flatten(1), ord=2, dim=1)
            return self.gp_weight * (grad_norm - 1).pow(2).mean()


@ganzoo.hookimpl
def register_losses(register: Callable[[Loss], None]) -> None:
    """Register ``wgan-gp`` with the paper's lambda = 10."""
    register(WassersteinGPLoss())
