"""Marks architectures put on their layers for the engine's techniques.

Spectral normalisation (``--spectral-norm``, ``Architecture.defaults``) is
applied by the engine to every linear, convolution and embedding layer of a
network. Some layers must keep their scale: the per-class gains of a
generator's conditional batch norm start at one, and dividing that table by
its largest singular value would shrink every gain to about
``1 / sqrt(classes * channels)``. An architecture marks such layers with
:func:`exempt_from_spectral_norm`.
"""

from __future__ import annotations

from torch import nn

_EXEMPT = "_ganzoo_exempt_from_spectral_norm"


def exempt_from_spectral_norm(module: nn.Module) -> nn.Module:
    """Keep ``module`` and every layer inside it out of spectral normalisation; returns ``module``."""
    setattr(module, _EXEMPT, True)
    return module


def is_exempt_from_spectral_norm(module: nn.Module) -> bool:
    """Whether :func:`exempt_from_spectral_norm` marked ``module`` itself."""
    return bool(getattr(module, _EXEMPT, False))
