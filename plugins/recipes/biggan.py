"""Recipes of BigGAN on CIFAR-10: StudioGAN's configuration, and it with DiffAugment and with LeCam + DiffAugment.

The networks are the ``biggan`` architecture's defaults, which are
StudioGAN's CIFAR-10 BigGAN (``src/models/big_resnet.py`` with
``src/configs/CIFAR10/BigGAN.yaml``: G 384 channels, D 192, shared
embedding 128, attention at 16 x 16, orthogonal init, spectral norm in both
networks). The training settings come from that file over
``src/config.py``'s defaults, which the published run's log repeats.
"""

from __future__ import annotations

import ganzoo

_REFERENCE = ("POSTECH-CVLab/PyTorch-StudioGAN src/configs/CIFAR10/BigGAN.yaml (z 80, hinge, EMA 0.9999 from step "
              "1000) over src/config.py's defaults (batch 64, Adam 2e-4 (0.5, 0.999), 5 D steps, 100k steps, "
              "random flips)")

_CIFAR = {"arch": "biggan", "loss": "hinge", "data": "cifar10", "latent_dim": 80, "batch_size": 64, "lr_g": 2e-4,
          "lr_d": 2e-4, "betas": (0.5, 0.999), "n_critic": 5, "steps": 100_000, "ema": 0.9999, "ema_start": 1000,
          "augmentations": ["flip"]}
_DIFFAUGMENT = "diffaugment:policy=color,translation,cutout"

RECIPES = (
    ganzoo.Recipe(
        name="biggan-cifar10",
        description="Class-conditional BigGAN on CIFAR-10 with StudioGAN's configuration.",
        paper="Brock, Donahue & Simonyan 2019, Large Scale GAN Training for High Fidelity Natural Image Synthesis",
        reference=_REFERENCE,
        settings=_CIFAR,
        published="FID 8.03 (StudioGAN's run: 10k samples vs the 10k test images, best of 100k steps); "
                  "14.73 for the paper as StudioGAN's README quotes it",
    ),
    ganzoo.Recipe(
        name="biggan-diffaugment-cifar10",
        description="BigGAN + DiffAugment (color, translation, cutout on every batch D sees).",
        paper="Zhao, Liu, Lin, Zhu & Han 2020, Differentiable Augmentation for Data-Efficient GAN Training",
        reference=_REFERENCE + "; DiffAugment policy color,translation,cutout as the paper's CIFAR-10 runs",
        settings={**_CIFAR, "augmentations": ["flip", _DIFFAUGMENT]},
    ),
    ganzoo.Recipe(
        name="biggan-lecam-cifar10",
        description="BigGAN + DiffAugment + LeCam regularisation (weight 0.3, EMA anchors 0.99).",
        paper="Tseng, Jiang, Liu, Yang & Yang 2021, Regularizing Generative Adversarial Networks under Limited Data",
        reference=_REFERENCE + "; LeCam weight 0.3 and anchor decay 0.99 as the paper's CIFAR-10 setting",
        settings={**_CIFAR, "augmentations": ["flip", _DIFFAUGMENT], "regularizers": ["lecam:weight=0.3"]},
    ),
)


@ganzoo.hookimpl
def register_recipes(register):
    """Register the BigGAN CIFAR-10 recipes."""
    for recipe in RECIPES:
        register(recipe)
