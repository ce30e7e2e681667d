"""The regularizer contract: terms added to the discriminator's (or the generator's) loss, chosen with ``--reg``.

A :class:`Regularizer` is a registered, stateless factory (like an
:class:`~ganzoo.Architecture`); :meth:`Regularizer.build` makes one
``torch.nn.Module`` per run whose ``forward`` takes a :class:`CriticBatch`
(a term on D, the default) or a :class:`GeneratorBatch` (a term on G, such as
StyleGAN2's path-length penalty) and returns the unweighted penalty. The
engine multiplies it by the weight in force, calls it on every ``every``-th
update of its network only (lazy regularization, the weight then scaled by
``every``), adds it to that network's loss and keeps the module's buffers in
every checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganzoo.contract.components import DataSpec

#: Options every regularizer takes besides its own, with what they mean.
COMMON_REGULARIZER_OPTIONS: Mapping[str, str] = {
    "weight": "multiplies the term (default: the regularizer's weight)",
    "every": "apply the term on every k-th update of its network only, its weight times k (default: the "
    "regularizer's, usually 1)",
}

#: The networks a regularizer can regularize (:attr:`Regularizer.network`).
REGULARIZER_NETWORKS = ("discriminator", "generator")


@dataclass(frozen=True)
class CriticBatch:
    """What a regularizer sees of one discriminator update.

    Attributes:
        discriminator: maps a batch of samples to D's adversarial logits,
            float32 of shape ``(N,)``: the labels of a conditional model are
            bound and D's input augmentations (``--augment``) are applied, so a
            penalty sees D exactly as the losses do. It is differentiable with
            respect to its input and D's parameters.
        real: the update's real batch, as the data gave it (not augmented).
        fake: the generated batch, detached from the generator's graph.
        real_logits: D's logits on ``real`` from the update's own pass
            (graph attached: a term built on them trains D).
        fake_logits: D's logits on ``fake`` from the same pass.
        mean_over_processes: averages a tensor over the data-parallel processes
            (the identity for one process). A term whose state follows the
            data (LeCam's anchors) updates it from averaged values, so every
            process keeps the same state.
    """

    discriminator: Callable[[torch.Tensor], torch.Tensor]
    real: torch.Tensor
    fake: torch.Tensor
    real_logits: torch.Tensor
    fake_logits: torch.Tensor
    mean_over_processes: Callable[[torch.Tensor], torch.Tensor] = lambda tensor: tensor


@dataclass(frozen=True)
class GeneratorBatch:
    """What a generator-side regularizer sees of one generator update.

    Attributes:
        generator: the generator being trained (the module the architecture
            built, not its EMA copy): a term may call the submodules its
            architecture documents (StyleGAN2's ``mapping`` and ``synthesis``).
        z: the update's noise ``(N, latent_dim)``.
        labels: the batch's labels ``(N,)`` for a conditional architecture, else None.
        fake: the generated batch, graph attached.
        mean_over_processes: as in :class:`CriticBatch`.
    """

    generator: nn.Module
    z: torch.Tensor
    labels: torch.Tensor | None
    fake: torch.Tensor
    mean_over_processes: Callable[[torch.Tensor], torch.Tensor] = lambda tensor: tensor


class Regularizer:
    """A named penalty on the discriminator (or the generator), composable with any architecture and loss.

    Subclasses set :attr:`name`, :attr:`description`, :attr:`options` and
    :attr:`weight`, and implement :meth:`build`.

    Attributes:
        name: the kebab-case name users pass to ``--reg NAME[:KEY=VALUE,...]``.
        description: one line shown by ``ganzoo list-plugins``; cite the paper.
        options: the regularizer's own option name -> default, passed to
            :meth:`build`; values typed after the name are converted to the
            default's type. ``weight`` and ``every`` are taken by every
            regularizer (:data:`COMMON_REGULARIZER_OPTIONS`) and must not
            appear here.
        weight: the default weight (the paper's, e.g. WGAN-GP's lambda 10).
        every: the default laziness (1: every update; StyleGAN2's path-length
            penalty: 4), which ``every=k`` overrides.
        needs_input_gradients: True when the term differentiates D with
            respect to its input (gradient penalties): the trainer then keeps
            D out of ``torch.compile``, whose graphs are not twice differentiable.
        network: ``discriminator`` (the default): ``forward`` gets a
            :class:`CriticBatch` in every due D update and the penalty trains
            D; ``generator``: it gets a :class:`GeneratorBatch` in every due G
            update (``every`` counts G updates) and the penalty trains G.
    """

    name: str = ""
    description: str = ""
    options: Mapping[str, Any] = {}
    weight: float = 1.0
    every: int = 1
    needs_input_gradients: bool = True
    network: str = "discriminator"

    def build(self, spec: DataSpec, **options: Any) -> nn.Module:
        """A fresh term for one run on data of ``spec``.

        Args:
            spec: the dataset's :class:`~ganzoo.DataSpec`.
            **options: every key of :attr:`options`, with the value in force.

        Returns:
            A module whose ``forward(batch)`` (a :class:`CriticBatch`, or a
            :class:`GeneratorBatch` for a generator-side term) returns the
            unweighted penalty, a float32 scalar tensor that the update of
            its network minimises. Its buffers are its state: moved to the run's device,
            saved in every checkpoint and restored on resume and rollback.
            ``forward`` runs inside the step's autocast; compute norms and
            squares of gradients in float32 (:func:`input_gradients` does).
            It must not read tensors back to the host (no ``.item()``): that
            would make every step wait for the device.

        Raises:
            GanzooError: when the term cannot apply to ``spec`` (say, image
                transforms on vector data), naming what it needs.
        """
        raise NotImplementedError

    def check_networks(self, generator: nn.Module, discriminator: nn.Module, **options: Any) -> None:
        """Raise GanzooError when the term cannot apply to these networks (say, a term that needs StyleGAN2's
        ``mapping`` and ``synthesis``), naming what it needs.

        Called once per run before anything is written, with the run's networks built on the meta device
        (shapes and submodules, no values) and the term's options in force. The default accepts any.
        """


def input_gradients(outputs: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """``d outputs.sum() / d inputs`` with the graph kept (for penalties on D's gradient), in float32 at least.

    ``inputs`` must require grad and ``outputs`` depend on it. Where D treats
    samples independently (no batch norm across them), row ``i`` of the
    result is the gradient of ``outputs[i]`` alone. The cast to float32 keeps
    squared norms over thousands of pixels from overflowing or rounding away
    under bf16/fp16 autocast.
    """
    (gradient,) = torch.autograd.grad(outputs=outputs.sum(), inputs=inputs, create_graph=True)
    return gradient.to(torch.promote_types(gradient.dtype, torch.float32))


def squared_gradient_norms(gradient: torch.Tensor) -> torch.Tensor:
    """Per-sample ``||g_i||^2`` of a batch of gradients, shape ``(N,)``, computed outside autocast."""
    with torch.autocast(device_type=gradient.device.type, enabled=False):
        return gradient.flatten(1).pow(2).sum(1)
