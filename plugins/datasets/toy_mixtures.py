"""2-D Gaussian mixtures: the classic toys for watching a GAN drop modes.

``ring8`` is the ring of Metz et al., "Unrolled Generative Adversarial
Networks" (2017): 8 Gaussians evenly spaced on a circle of radius 2, std 0.02.
``grid25`` is the grid of VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et
al., 2018): 25 Gaussians at {-4, -2, 0, 2, 4}^2, std 0.05.

The ganzoo contract wants samples in [-1, 1], so both are scaled, geometry and
std alike, keeping every ratio of the papers: ring8 by 1/2.5 (radius 0.8, std
0.008) and grid25 by 1/5 (centres -0.8..0.8, std 0.01). With these stds even
a 20-sigma sample stays inside [-1, 1], so nothing is clamped.

The data is generated in memory from a fixed seed per split: every load
returns the same samples, and the test split differs from the train split.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch

import ganzoo
from ganzoo import DataSpec, GanzooError, InMemoryDataset

_SEEDS = {True: 2017, False: 2018}  # train, test


class GaussianMixture(ganzoo.Dataset):
    """Equal-weight isotropic Gaussians in 2-D; the label is the mode's index.

    Args:
        name: the dataset's name.
        description: its one-line description.
        centers: ``(K, 2)`` mode centres, already scaled into [-1, 1].
        std: the standard deviation of every mode, on the same scale.

    Attributes:
        centers: the ``(K, 2)`` centres, for mode-coverage metrics.
        std: the per-mode standard deviation, for mode-coverage metrics.
    """

    options = {"num_samples": 50000, "num_test_samples": 10000}

    def __init__(self, name: str, description: str, centers: torch.Tensor, std: float) -> None:
        self.name = name
        self.description = description
        self.centers = centers.float()
        self.std = float(std)
        k = len(centers)
        self.spec = DataSpec((2,), k, tuple(f"mode-{i}" for i in range(k)), modes=tuple(map(tuple, self.centers.tolist())))

    def load(
        self,
        root: str,
        train: bool = True,
        download: bool = True,
        num_samples: int = 50000,
        num_test_samples: int = 10000,
        **_: Any,
    ) -> InMemoryDataset:
        """Draw the split's samples (``num_samples`` for train, ``num_test_samples`` for test)."""
        count = num_samples if train else num_test_samples
        if isinstance(count, bool) or not str(count).strip().isdigit() or int(count) < 1:
            option = "num_samples" if train else "num_test_samples"
            raise GanzooError(f"{self.name}: {option} must be a positive integer, got {count!r}")
        generator = torch.Generator().manual_seed(_SEEDS[bool(train)])
        labels = torch.randint(len(self.centers), (int(count),), generator=generator)
        noise = torch.randn(int(count), 2, generator=generator)
        return InMemoryDataset(self.centers[labels] + self.std * noise, labels)


def ring_centers(modes: int, radius: float) -> torch.Tensor:
    """``modes`` points evenly spaced on a circle, the first at angle 0."""
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return torch.stack([radius * angles.cos(), radius * angles.sin()], dim=1).float()


def grid_centers(values: tuple[float, ...]) -> torch.Tensor:
    """The points ``values`` x ``values``, x-major (index = 5 * ix + iy for 5 values)."""
    return torch.tensor(list(itertools.product(values, values)), dtype=torch.float32)


RING8 = GaussianMixture(
    "ring8",
    "8 Gaussians on a circle (Metz et al. 2017), scaled by 1/2.5 into [-1, 1]",
    ring_centers(8, radius=2.0 / 2.5),
    std=0.02 / 2.5,
)
GRID25 = GaussianMixture(
    "grid25",
    "5x5 grid of Gaussians (VEEGAN, PacGAN), scaled by 1/5 into [-1, 1]",
    grid_centers(tuple(v / 5 for v in (-4.0, -2.0, 0.0, 2.0, 4.0))),
    std=0.05 / 5,
)


@ganzoo.hookimpl
def register_datasets(register):
    register(RING8)
    register(GRID25)
