"""Recipes of StyleGAN2 on CIFAR-10, with and without adaptive discriminator augmentation.

Both follow stylegan2-ada-pytorch's ``cifar`` configuration (train.py,
``cfg_specs['cifar']`` and its cifar branch): batch 64, Adam 0.0025 with
betas (0, 0.99) for both networks, R1 gamma 0.01 applied lazily every 16
D steps, no path-length regularisation and no style mixing (both switched
off for cifar), an EMA generator with a half-life of 500k images, 100M
training images, the class-conditional networks. The architecture's own
defaults (2 mapping layers, 512 channels, minibatch-std group 32, the
``orig`` discriminator) are that configuration.

Differences from the reference, by design: the EMA's half-life is fixed
from the first step instead of ramping up over the first 5% of images
(``--ema-start`` is the closest knob), and the lazy R1 keeps Adam's betas
unchanged (the reference rescales them by the lazy interval).
"""

from __future__ import annotations

import ganzoo

_REFERENCE = ("NVlabs/stylegan2-ada-pytorch train.py, the 'cifar' configuration (mb 64, lrate 0.0025, gamma 0.01, "
              "ema 500 kimg, map 2, mbstd 32, fmaps 1, kimg 100000; pl_weight 0 and style mixing 0 for cifar)")
_STEPS = 100_000_000 // 64  # 100M images at batch 64
#: A half-life of 500k images at batch 64: 0.5 ** (64 / 500_000).
_EMA_DECAY = 0.99991

_CIFAR = {"arch": "stylegan2-conditional", "loss": "bce", "data": "cifar10", "batch_size": 64, "lr_g": 0.0025,
          "lr_d": 0.0025, "betas": (0.0, 0.99), "n_critic": 1, "latent_dim": 512, "steps": _STEPS,
          "regularizers": ["r1:gamma=0.01,every=16"], "ema": _EMA_DECAY}

RECIPES = (
    ganzoo.Recipe(
        name="stylegan2-cifar10",
        description="Class-conditional StyleGAN2 on CIFAR-10 with stylegan2-ada-pytorch's cifar settings, no ADA.",
        paper="Karras et al. 2020, Analyzing and Improving the Image Quality of StyleGAN",
        reference=_REFERENCE,
        settings=_CIFAR,
    ),
    ganzoo.Recipe(
        name="stylegan2-ada-cifar10",
        description="Class-conditional StyleGAN2 + adaptive discriminator augmentation (target 0.6) on CIFAR-10.",
        paper="Karras et al. 2020, Training Generative Adversarial Networks with Limited Data",
        reference=_REFERENCE + "; ADA target 0.6, adjustment every 4 steps, speed 500 kimg",
        settings={**_CIFAR, "augmentations": ["ada:target=0.6"]},
        published="FID 2.42 (Karras et al. 2020, conditional CIFAR-10 with ADA, 50k samples vs the train split)",
    ),
)


@ganzoo.hookimpl
def register_recipes(register):
    """Register the StyleGAN2 and StyleGAN2 + ADA CIFAR-10 recipes."""
    for recipe in RECIPES:
        register(recipe)
