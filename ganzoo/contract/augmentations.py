"""The augmentation contract: differentiable transforms of what D sees, chosen with ``--augment``.

An :class:`Augmentation` is a registered, stateless factory; its
:meth:`~Augmentation.build` makes one :class:`AugmentPipe` per run. Unless the
augmentation is ``real_only``, the engine applies the pipe to every batch the
discriminator sees, real and fake alike, in D's update, in G's update (so
G's gradient flows through it) and inside regularizers that call D, which is
what keeps augmentations from leaking into the generated images
(Zhao et al. 2020; Karras et al. 2020). A ``real_only`` augmentation (plain
x-flips of the data) transforms the real batch only, as a dataset
augmentation, before anything else sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from ganzoo.contract.components import DataSpec


class AugmentPipe(nn.Module):
    """One run's augmentation: ``forward(images) -> images`` of the same shape, batched, on the device.

    ``images`` are float32 and ``forward`` runs outside autocast, whatever the
    run's precision (the engine casts a bf16 batch first).

    ``forward`` must be differentiable with respect to ``images`` and draw
    its randomness from torch's default generator on the images' device
    (checkpointed, so resumes draw the same transforms); it must not read
    tensors back to the host. Buffers are state: checkpointed, restored on
    resume and rollback, and, like everything that follows the data, updated
    from values averaged over processes so every process keeps the same.
    """

    def observe(self, real_logits: torch.Tensor, mean_over_processes: Callable[[torch.Tensor], torch.Tensor],
                global_batch: int) -> None:
        """Called after every discriminator update, under ``torch.no_grad()``, for adaptive augmentation
        (ADA's p). Default: nothing.

        Args:
            real_logits: D's logits on this process's (augmented) real batch, detached, float32 ``(N,)``.
            mean_over_processes: averages a tensor over the data-parallel processes (identity for one).
            global_batch: real images all processes together fed this update.
        """

    def log_values(self) -> dict[str, torch.Tensor]:
        """Scalars to add to each ``metrics.jsonl`` record (read only at log steps), e.g. ``{"ada_p": p}``."""
        return {}


class Augmentation:
    """A named transform of D's inputs, composable with any architecture, loss and regularizer.

    Attributes:
        name: the kebab-case name users pass to ``--augment NAME[:KEY=VALUE,...]``.
        description: one line shown by ``ganzoo list-plugins``; cite the paper.
        options: option name -> default, passed to :meth:`build`.
        real_only: True for a dataset augmentation applied to real samples
            only (``flip``); False (default) for transforms of everything D sees.
    """

    name: str = ""
    description: str = ""
    options: Mapping[str, Any] = {}
    real_only: bool = False

    def build(self, spec: DataSpec, **options: Any) -> AugmentPipe:
        """A fresh pipe for one run on data of ``spec`` (GanzooError, naming what it needs, if it cannot apply)."""
        raise NotImplementedError
