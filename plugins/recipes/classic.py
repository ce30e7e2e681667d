"""Recipes of the first GANs: the MLP GAN, DCGAN, LSGAN, WGAN-GP and InfoGAN.

Each follows the reference implementation it names; where a paper reports no
FID under a protocol comparable to today's (50k samples against the training
set), ``published`` says so rather than quote a number measured differently.
"""

from __future__ import annotations

import ganzoo

#: StudioGAN's optimisation defaults (src/config.py) shared by its DCGAN and LSGAN configurations: Adam 2e-4
#: for both networks, betas (0.5, 0.999), batch 64, z of 128, random horizontal flips of the real images.
_STUDIOGAN_DEEP_CONV = {"arch": "standard-cnn", "spectral_norm": "none", "data": "cifar10", "batch_size": 64,
                        "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "latent_dim": 128,
                        "n_critic": 2, "steps": 200_000, "augmentations": ["flip"]}

RECIPES = (
    ganzoo.Recipe(
        name="vanilla-gan-mnist",
        description="The original GAN's MLPs on MNIST, non-saturating loss, as PyTorch-GAN trains them.",
        paper="Goodfellow et al. 2014, Generative Adversarial Nets",
        reference="eriklindernoren/PyTorch-GAN implementations/gan/gan.py (G 128-256-512-1024, D 512-256, "
                  "Adam 2e-4 (0.5, 0.999), batch 64, 200 epochs)",
        settings={"arch": "mlp", "loss": "bce", "data": "mnist", "arch_options": {
            "generator_widths": (128, 256, 512, 1024), "discriminator_widths": (512, 256)},
            "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "latent_dim": 100, "epochs": 200},
        published="none: the paper reports Parzen-window log-likelihoods, not FID",
    ),
    ganzoo.Recipe(
        name="dcgan-cifar10",
        description="Radford et al.'s DCGAN (512-256-128 at 32 px) with the pytorch/examples training loop.",
        paper="Radford, Metz & Chintala 2015, Unsupervised Representation Learning with Deep Convolutional GANs",
        reference="pytorch/examples dcgan/main.py (batch 64, Adam 2e-4 (0.5, 0.999), nz 100, 25 epochs)",
        settings={"arch": "dcgan", "loss": "bce", "data": "cifar10", "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4,
                  "betas": (0.5, 0.999), "latent_dim": 100, "epochs": 25},
        published="none in the paper (it evaluates features, not samples)",
    ),
    ganzoo.Recipe(
        name="lsgan-cifar10",
        description="Least-squares GAN on the standard CNN, with StudioGAN's CIFAR-10 LSGAN configuration.",
        paper="Mao et al. 2017, Least Squares Generative Adversarial Networks",
        reference="POSTECH-CVLab/PyTorch-StudioGAN src/configs/CIFAR10/LSGAN.yaml (deep_conv backbone, "
                  "least-squares loss, 2 D steps per G step, 200k steps) over src/config.py's defaults",
        settings={**_STUDIOGAN_DEEP_CONV, "loss": "mse"},
    ),
    ganzoo.Recipe(
        name="wgan-gp-cifar10",
        description="WGAN-GP (gradient penalty 10, 5 critic steps) on the CIFAR ResNet, as mimicry trains it.",
        paper="Gulrajani et al. 2017, Improved Training of Wasserstein GANs",
        reference="kwotsin/mimicry torch_mimicry/nets/wgan_gp/wgan_gp_32.py with its CIFAR-10 training "
                  "parameters (batch 64, Adam 2e-4 (0.0, 0.9), n_dis 5, linear decay, 100k steps)",
        settings={"arch": "sngan", "spectral_norm": "none", "loss": "wgan-gp", "data": "cifar10", "batch_size": 64,
                  "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.0, 0.9), "n_critic": 5, "lr_schedule": "linear",
                  "latent_dim": 128, "steps": 100_000},
        published="FID 22.29 (mimicry's table: 50k samples vs the train split)",
    ),
    ganzoo.Recipe(
        name="infogan-mnist",
        description="InfoGAN on MNIST: a 10-way categorical and two continuous codes in 62 + 12 latent dims.",
        paper="Chen et al. 2016, InfoGAN: Interpretable Representation Learning by Information Maximizing GANs",
        reference="openai/InfoGAN launchers/run_mnist_exp.py and infogan_trainer.py (batch 128, D 2e-4, G 1e-3, "
                  "Adam beta1 0.5, 50 'epochs' of 100 updates, info weight 1)",
        settings={"arch": "infogan", "loss": "bce", "data": "mnist", "batch_size": 128, "lr_g": 1e-3, "lr_d": 2e-4,
                  "betas": (0.5, 0.999), "n_critic": 1, "latent_dim": 74, "steps": 5000},
        published="no FID; the categorical code classifies MNIST digits with 5% error once categories are "
                  "matched to digits (Chen et al. 2016, section 7.1)",
    ),
)


@ganzoo.hookimpl
def register_recipes(register):
    """Register the MLP GAN, DCGAN, LSGAN, WGAN-GP and InfoGAN recipes."""
    for recipe in RECIPES:
        register(recipe)
