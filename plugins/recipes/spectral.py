"""Recipes of the spectrally normalised GANs: SNDCGAN, SNGAN (with and without projection) and SAGAN."""

from __future__ import annotations

import ganzoo

#: mimicry's CIFAR-10 training parameters for its ResNet GANs (README, "CIFAR-10 / Training Parameters").
_MIMICRY_CIFAR = {"data": "cifar10", "loss": "hinge", "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4,
                  "betas": (0.0, 0.9), "n_critic": 5, "lr_schedule": "linear", "latent_dim": 128, "steps": 100_000}

RECIPES = (
    ganzoo.Recipe(
        name="sndcgan-cifar10",
        description="The standard CNN with a spectrally normalised discriminator (SNDCGAN), hinge loss.",
        paper="Miyato, Kataoka, Koyama & Yoshida 2018, Spectral Normalization for Generative Adversarial Networks",
        reference="the paper's Table 3 (a) networks and setting C of its Table 1 (Adam 2e-4 (0.5, 0.999), "
                  "one D step per G step), batch 64, 100k generator updates",
        settings={"arch": "standard-cnn", "loss": "hinge", "data": "cifar10", "batch_size": 64, "lr_g": 2e-4,
                  "lr_d": 2e-4, "betas": (0.5, 0.999), "n_critic": 1, "latent_dim": 128, "steps": 100_000},
        published="FID 25.5 with the hinge loss (Miyato et al. 2018, Table 2; the paper's own FID protocol, "
                  "not 50k samples vs train)",
    ),
    ganzoo.Recipe(
        name="sngan-cifar10",
        description="SNGAN's ResNet pair on CIFAR-10: hinge loss, 5 D steps, linear decay, 100k steps.",
        paper="Miyato, Kataoka, Koyama & Yoshida 2018, Spectral Normalization for Generative Adversarial Networks",
        reference="kwotsin/mimicry torch_mimicry/nets/sngan/sngan_32.py with its CIFAR-10 training parameters",
        settings={"arch": "sngan", **_MIMICRY_CIFAR},
        published="FID 16.77 (mimicry's table: 50k samples vs the train split); 21.7 in the paper (Table 3, "
                  "its own protocol)",
    ),
    ganzoo.Recipe(
        name="sngan-proj-cifar10",
        description="Class-conditional SNGAN: conditional batch norm in G, projection discriminator.",
        paper="Miyato & Koyama 2018, cGANs with Projection Discriminator",
        reference="kwotsin/mimicry torch_mimicry/nets/cgan_pd/cgan_pd_32.py with its CIFAR-10 training parameters",
        settings={"arch": "sngan-projection", **_MIMICRY_CIFAR},
        published="FID 10.84 (mimicry's cGAN-PD: 50k samples vs the train split)",
    ),
    ganzoo.Recipe(
        name="sagan-cifar10",
        description="Self-attention GAN, class-conditional, spectral norm in G and D, hinge loss.",
        paper="Zhang, Goodfellow, Metaxas & Odena 2019, Self-Attention Generative Adversarial Networks",
        reference="POSTECH-CVLab/PyTorch-StudioGAN src/configs/CIFAR10/SAGAN.yaml (ResNet backbone, cBN + "
                  "projection, attention at G block 2 and D block 1, hinge) over src/config.py's defaults "
                  "(batch 64, Adam 2e-4 (0.5, 0.999), 5 D steps, 100k steps, random flips)",
        settings={"arch": "sagan", "loss": "hinge", "data": "cifar10", "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4,
                  "betas": (0.5, 0.999), "n_critic": 5, "latent_dim": 128, "steps": 100_000,
                  "augmentations": ["flip"]},
    ),
)


@ganzoo.hookimpl
def register_recipes(register):
    """Register the SNDCGAN, SNGAN, SNGAN-projection and SAGAN recipes."""
    for recipe in RECIPES:
        register(recipe)
