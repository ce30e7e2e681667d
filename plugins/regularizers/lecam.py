"""LeCam regularization (Tseng et al. 2021)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional

import ganzoo
from ganzoo import CriticBatch, DataSpec, Regularizer


class _LeCamTerm(nn.Module):
    """The anchors (buffers, so checkpointed) and the penalty."""

    def __init__(self, decay: float, start: int) -> None:
        super().__init__()
        self.decay, self.start = decay, start
        self.register_buffer("anchor_real", torch.zeros(()))
        self.register_buffer("anchor_fake", torch.zeros(()))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def forward(self, batch: CriticBatch) -> torch.Tensor:
        with torch.no_grad():
            real = batch.mean_over_processes(batch.real_logits.detach().float().mean())
            fake = batch.mean_over_processes(batch.fake_logits.detach().float().mean())
            # During the first `start` updates the anchors follow the batch means (decay 0), on the device.
            decay = torch.where(self.updates < self.start, 0.0, self.decay)
            self.anchor_real.mul_(decay).add_((1 - decay) * real)
            self.anchor_fake.mul_(decay).add_((1 - decay) * fake)
            self.updates += 1
        return (functional.relu(batch.real_logits.float() - self.anchor_fake).pow(2).mean()
                + functional.relu(self.anchor_real - batch.fake_logits.float()).pow(2).mean())


class LeCam(Regularizer):
    """LeCam regularization (Tseng, Jiang, Liu, Yang & Yang 2021, "Regularizing Generative Adversarial
    Networks under Limited Data", eq. 3).

    ``weight * (mean(relu(D(x) - a_F)^2) + mean(relu(a_R - D(G(z)))^2))``, where
    ``a_R`` and ``a_F`` are exponential moving averages (``decay`` 0.99) of
    D's mean output on real and on generated samples, updated from the
    current batch before the term is taken, as the authors' reference code
    (github.com/google/lecam-gan) does, including its ``relu``. For the
    first ``start`` updates the anchors copy the batch means (the reference's
    EMA start). Weight 0.3, the paper's CIFAR-10 value. Under torchrun the
    anchors follow the mean over all processes, so they agree.
    """

    name = "lecam"
    description = "LeCam: D's outputs kept near moving anchors of the other side (Tseng et al. 2021)."
    options = {"decay": 0.99, "start": 0}
    weight = 0.3
    needs_input_gradients = False

    def build(self, spec: DataSpec, **options: Any) -> nn.Module:
        """The term with both anchors at 0."""
        decay = float(options["decay"])
        if not 0 <= decay < 1:
            raise ganzoo.GanzooError(f"--reg lecam: decay must lie in [0, 1), got {decay}")
        return _LeCamTerm(decay, int(options["start"]))


@ganzoo.hookimpl
def register_regularizers(register: Callable[[Regularizer], None]) -> None:
    """Register ``lecam``."""
    register(LeCam())
