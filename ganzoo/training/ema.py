"""``--ema``: an exponential moving average of the generator's weights, for sampling.

Averaging the generator over training (Yazici et al. 2019, "The Unusual
Effectiveness of Averaging in GAN Training"; Karras et al. 2018, ProGAN's
G_s) gives smoother, better-scoring samples than the last iterate, and every
recent zoo samples from it (StudioGAN's ``G_ema``, BigGAN's decay 0.9999,
StyleGAN2's 10k-image half-life). After each generator update,
``ema = decay * ema + (1 - decay) * G`` for every parameter in one foreach
kernel on the device, with no host sync; before ``start`` the average is a
plain copy of G, so early, poor weights do not linger in it. Buffers
(batch-norm running statistics, spectral norm's vectors) are copied, not
averaged; sampling recomputes standing batch-norm statistics for the
averaged weights anyway (:mod:`ganzoo.evaluation.standing`).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class GeneratorAverage:
    """The averaged copy of a generator and its update rule.

    Args:
        generator: the trained generator; the average starts as a copy of it.
        decay: the weight of the old average per update, in ``(0, 1)``.
        start: generator updates during which the average copies G.
    """

    def __init__(self, generator: nn.Module, decay: float, start: int = 0) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"decay must lie in (0, 1), got {decay}")
        self.decay, self.start = decay, start
        self.network = copy.deepcopy(generator).requires_grad_(False)
        self.updates = 0  # generator updates so far; restored from the checkpoint's step
        # Pairs are fixed once: checkpoints load into these same tensors in place.
        self._averaged = list(self.network.parameters())
        self._trained = [parameter.detach() for parameter in generator.parameters()]
        self._buffers = list(zip(self.network.buffers(), generator.buffers()))

    @torch.no_grad()
    def update(self) -> None:
        """Fold the generator's current weights into the average (call after each generator step)."""
        if self.updates < self.start:
            torch._foreach_copy_(self._averaged, self._trained)
        else:
            torch._foreach_lerp_(self._averaged, self._trained, 1 - self.decay)
        for mine, theirs in self._buffers:
            mine.copy_(theirs)
        self.updates += 1
