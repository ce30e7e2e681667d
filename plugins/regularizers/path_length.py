"""The ``pl`` regularizer: StyleGAN2's path-length penalty on the generator (Karras et al. 2020, section 3.2).

For ``w`` (the mapping network's output) and images ``g(w)``, the penalty is
``E[(||J_w^T y||_2 - a)^2]`` with ``y`` Gaussian noise images scaled by
``1 / sqrt(H * W)`` and ``a`` a running mean of the lengths (decay 0.01), so
that a fixed-size step in W moves the image by a fixed amount. It follows
stylegan2-ada-pytorch's ``training/loss.py``: weight 2, applied lazily every
4 generator updates (the defaults of ``--reg pl``), on half the batch (``batch_shrink`` 2), the
lengths averaged over the ``num_ws`` copies of ``w``. The running mean is a
buffer: checkpointed, and updated from the mean over all processes.

It needs a generator with ``mapping(z[, labels])`` and ``synthesis(ws)``
submodules (``stylegan2``); any other is a one-line error before the run starts.
"""

from __future__ import annotations

import math

import torch
from torch import nn

import ganzoo


class PathLengthPenalty(nn.Module):
    """``(length - running mean)^2``, averaged over the samples it is computed on."""

    def __init__(self, decay: float, batch_shrink: int) -> None:
        super().__init__()
        self.decay, self.batch_shrink = decay, batch_shrink
        self.register_buffer("mean_length", torch.zeros(()))

    def forward(self, batch: ganzoo.GeneratorBatch) -> torch.Tensor:
        generator = batch.generator
        count = max(1, len(batch.z) // self.batch_shrink)
        z = batch.z[:count]
        labels = batch.labels[:count] if batch.labels is not None else None
        ws = generator.mapping(z, labels) if labels is not None else generator.mapping(z)
        images = generator.synthesis(ws)
        noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
        (gradient,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
        with torch.autocast(device_type=gradient.device.type, enabled=False):
            gradient = gradient.float()
            lengths = gradient.square().sum(-1).mean(1).sqrt() if gradient.dim() == 3 else gradient.square().sum(-1).sqrt()
            mean = self.mean_length.lerp(batch.mean_over_processes(lengths.mean().detach()), self.decay)
            self.mean_length.copy_(mean)
            return (lengths - mean).square().mean()


class PathLength(ganzoo.Regularizer):
    """StyleGAN2's path-length regularizer of the generator (Karras et al. 2020)."""

    name = "pl"
    description = "StyleGAN2's path-length penalty on G (Karras et al. 2020): weight 2, every 4 G updates."
    options = {"decay": 0.01, "batch_shrink": 2}
    weight = 2.0
    every = 4
    needs_input_gradients = False
    network = "generator"

    def build(self, spec: ganzoo.DataSpec, decay: float = 0.01, batch_shrink: int = 2) -> nn.Module:
        """See :meth:`ganzoo.Regularizer.build`."""
        if not spec.is_image:
            raise ganzoo.GanzooError(f"--reg pl needs image data; got shape {spec.shape}")
        if not 0 < decay <= 1 or batch_shrink < 1:
            raise ganzoo.GanzooError(f"--reg pl: decay must lie in (0, 1] and batch_shrink be >= 1; got {decay}, "
                                     f"{batch_shrink}")
        return PathLengthPenalty(float(decay), int(batch_shrink))

    def check_networks(self, generator: nn.Module, discriminator: nn.Module, **options) -> None:
        """The generator must have ``mapping`` and ``synthesis`` submodules (StyleGAN2's)."""
        if not all(isinstance(getattr(generator, part, None), nn.Module) for part in ("mapping", "synthesis")):
            raise ganzoo.GanzooError("--reg pl needs a generator with mapping and synthesis networks (e.g. "
                                     f"--arch stylegan2); this one is a {type(generator).__name__}")


@ganzoo.hookimpl
def register_regularizers(register):
    """Register ``pl``."""
    register(PathLength())
