"""``--truncation PSI``: the truncation trick, for generators that offer it through ``truncation_psi``.

A generator supports truncation when its module defines a float attribute
``truncation_psi`` (1.0 meaning none) that its ``forward`` reads; StyleGAN-style
generators use it to pull every intermediate latent ``w`` towards the average one,
``w_avg + psi * (w - w_avg)`` (Karras et al. 2019, "A Style-Based Generator
Architecture for Generative Adversarial Networks", appendix B). The engine only
sets the attribute for the duration of sampling; what it means is the generator's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn

from ganzoo.errors import GanzooError

#: The attribute a generator defines to support ``--truncation`` (1.0: no truncation).
TRUNCATION_ATTRIBUTE = "truncation_psi"
#: ``--truncation``'s help, shared by every sampling command.
TRUNCATION_HELP = ("Truncation trick: pull samples towards the average latent, 1 = none, 0 = the average alone "
                   "(generators that define truncation_psi, e.g. style-based ones).")


def check_truncation(network: nn.Module, psi: float | None, arch: str) -> None:
    """Refuse a ``psi`` outside [0, 1] (or not a number), or any ``psi`` for a generator without truncation."""
    if psi is None:
        return
    if not 0.0 <= psi <= 1.0:  # also refuses NaN
        raise GanzooError(f"--truncation must lie in [0, 1] (1 = no truncation, 0 = the average latent), got {psi}")
    if not hasattr(network, TRUNCATION_ATTRIBUTE):
        raise GanzooError(f"--truncation {psi}: the {arch} generator does not support truncation (architectures "
                          f"whose generator defines {TRUNCATION_ATTRIBUTE} support it; see docs/zoo.md)")


@contextlib.contextmanager
def truncated(network: nn.Module, psi: float | None, arch: str) -> Iterator[nn.Module]:
    """``network`` with its ``truncation_psi`` set to ``psi`` inside the block, and restored afterwards.

    ``psi`` None leaves the network alone (no ``--truncation`` given). The check of
    :func:`check_truncation` runs on entry, before anything is generated.
    """
    check_truncation(network, psi, arch)
    if psi is None:
        yield network
        return
    previous = getattr(network, TRUNCATION_ATTRIBUTE)
    setattr(network, TRUNCATION_ATTRIBUTE, float(psi))
    try:
        yield network
    finally:
        setattr(network, TRUNCATION_ATTRIBUTE, previous)
