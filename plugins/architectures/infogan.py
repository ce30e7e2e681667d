"""The ``infogan`` architecture: Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by
Information Maximizing Generative Adversarial Nets", for square images of size 28 (MNIST) or 32.

The networks are those of the paper's MNIST table (appendix, Table 1), checked against the authors'
reference implementation (openai/InfoGAN, ``infogan/models/regularized_gan.py``). The generator reads
its structured codes from the last columns of ``z`` (:func:`ganzoo.codes_from_noise`): one categorical
code ``digit`` and the continuous codes ``c1``, ``c2``, ... (the paper's c1 and c2, c3). The recognition
network Q shares the discriminator's layers up to its 1024 features; the discriminator returns
``(logits, q)`` and :meth:`InfoGANArchitecture.auxiliary_loss` turns ``q`` into the paper's
variational lower bound on the mutual information between the codes and the generated images.

Q's parameterisation and the weights follow the reference's MNIST launcher (``launchers/run_mnist_exp.py``):
each continuous code is a Gaussian with a fixed standard deviation of 1 (``Uniform(1, fix_std=True)``), so
its term is half a squared error; the paper's appendix describes a learned standard deviation instead
(``learn_std=True``). lambda is 1 for every code (``info_reg_coeff=1.0``; the paper sets 1 for discrete
codes and "smaller" for continuous ones, which ``continuous_weight`` provides: eriklindernoren/PyTorch-GAN's
0.1 times a mean squared error is ``continuous_weight=0.2``).
"""

from __future__ import annotations

import torch
from torch import nn

import ganzoo
from ganzoo_plugins.architectures.init import DCGAN_INIT_STD, dcgan_init_

#: Image sizes: two stride-2 layers grow the generator's first map, size / 4 on a side, to the image.
SIZES = (28, 32)
#: Negative slope of the discriminator's leaky ReLUs: the paper's appendix says 0.1 (the reference
#: code's ``leaky_rectify`` defaults to 0.01; the paper is followed).
LEAKY_SLOPE = 0.1


class InfoGANArchitecture(ganzoo.Architecture):
    """InfoGAN's MNIST generator, discriminator and recognition network Q (Chen et al. 2016)."""

    name = "infogan"
    description = "InfoGAN (Chen et al. 2016) for 28 or 32 px images: categorical and continuous latent codes."
    options = {"categories": 10, "continuous": 2, "info_weight": 1.0, "continuous_weight": 1.0,
               "learn_std": False, "discriminator_batch_norm": True}

    def build(
        self,
        spec: ganzoo.DataSpec,
        latent_dim: int,
        categories: int = 10,
        continuous: int = 2,
        info_weight: float = 1.0,
        continuous_weight: float = 1.0,
        learn_std: bool = False,
        discriminator_batch_norm: bool = True,
    ) -> tuple[nn.Module, nn.Module]:
        """Build the networks; see :meth:`ganzoo.Architecture.build`.

        Args:
            categories: categories of the code ``digit`` (10 for MNIST); 0 for none.
            continuous: continuous codes ``c1`` ... ``cN``, each one value uniform on [-1, 1] (2 for MNIST);
                one code per dimension, so ``ganzoo sample --vary c1`` moves exactly one.
            info_weight: lambda, the weight of the mutual-information term (see :meth:`auxiliary_loss`).
            continuous_weight: an extra factor on the continuous codes' part of that term.
            learn_std: Q predicts a log standard deviation per continuous code (the paper's factored
                Gaussian) instead of the reference's fixed standard deviation of 1.
            discriminator_batch_norm: False for critics whose loss penalises per-sample gradients
                (WGAN-GP), which BatchNorm would couple; Q's own BatchNorm stays.

        Raises:
            GanzooError: for an unsupported image shape, bad option values, or a ``latent_dim`` with no
                columns left for the unstructured noise.
        """
        codes = latent_codes(categories, continuous)
        _check_weights(info_weight, continuous_weight)
        noise_dim = latent_dim - code_width(codes)
        if noise_dim < 1:
            raise ganzoo.GanzooError(
                f"infogan's codes take {code_width(codes)} columns of z; --latent-dim must be at least "
                f"{code_width(codes) + 1}, got {latent_dim} (the paper's MNIST setup: 74 = 62 noise + codes)")
        channels, size = _image_shape(spec.shape)
        generator = InfoGANGenerator(noise_dim, codes, channels, size)
        discriminator = InfoGANDiscriminator(channels, size, q_width(codes, bool(learn_std)),
                                             bool(discriminator_batch_norm))
        generator.apply(infogan_init_)
        discriminator.apply(infogan_init_)
        return generator, discriminator

    def latent_codes(self, spec: ganzoo.DataSpec, latent_dim: int, **options) -> tuple[ganzoo.LatentCode, ...]:
        """``digit`` (categorical, ``categories``) then ``c1`` ... (continuous, one value each)."""
        return latent_codes(options.get("categories", 10), options.get("continuous", 2))

    def auxiliary_loss(self, output: torch.Tensor, target: ganzoo.AuxiliaryTarget, **options) -> torch.Tensor | float:
        """The negated mutual-information bound, weighted: 0.0 for the real batch.

        For generated samples, with ``c`` the codes read from ``target.z`` and ``q`` Q's output::

            info_weight * ( cross_entropy(q_digit, c_digit)
                            + continuous_weight * sum_i 0.5 * (c_i - mean_i)^2 / std_i^2 + log std_i )

        each term averaged over the batch; ``std_i`` is 1 unless ``learn_std`` (then ``log std_i`` is Q's
        output), and the Gaussian's constant ``0.5 * log(2 pi)`` is left out. This is the reference's
        ``-(L_I)`` up to the codes' prior entropy, which does not depend on the networks. Added to D's loss
        it trains Q (and D's shared layers); to G's, the generator.
        """
        if target.real or target.z is None:
            return 0.0
        options = {**self.options, **options}
        codes = latent_codes(options["categories"], options["continuous"])
        learn_std = bool(options["learn_std"])
        values = ganzoo.codes_from_noise(target.z, codes)
        q = output.float()
        categorical, gaussian, start = q.new_zeros(()), q.new_zeros(()), 0
        for code in codes:
            width = q_width((code,), learn_std)
            part = q[:, start:start + width]
            start += width
            if code.kind == "categorical":
                categorical = categorical + nn.functional.cross_entropy(part, values[code.name])
                continue
            mean = part[:, :code.size]
            log_std = part[:, code.size:] if learn_std else torch.zeros_like(mean)
            error = (values[code.name] - mean) * torch.exp(-log_std)
            gaussian = gaussian + (0.5 * error.square() + log_std).sum(dim=1).mean()
        return float(options["info_weight"]) * (categorical + float(options["continuous_weight"]) * gaussian)


class InfoGANGenerator(nn.Module):
    """Maps ``z`` to images: the unstructured noise columns, one-hot categories and continuous values in."""

    def __init__(self, noise_dim: int, codes: tuple[ganzoo.LatentCode, ...], channels: int, size: int) -> None:
        super().__init__()
        self.noise_dim, self.codes = noise_dim, codes
        side = size // 4
        input_dim = noise_dim + code_width(codes)
        # Bias is dropped where BatchNorm follows: its shift would cancel it.
        self.layers = nn.Sequential(
            nn.Linear(input_dim, 1024, bias=False), nn.BatchNorm1d(1024), nn.ReLU(),  # (N, 1024)
            nn.Linear(1024, 128 * side * side, bias=False), nn.BatchNorm1d(128 * side * side), nn.ReLU(),
            nn.Unflatten(1, (128, side, side)),  # state size. 128 x 7 x 7 (8 x 8 at 32 px)
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),  # 64 x 14 x 14
            nn.ConvTranspose2d(64, channels, 4, 2, 1),  # state size. (channels) x 28 x 28 (32 x 32)
            nn.Tanh(),  # the reference's sigmoid (a Bernoulli mean) becomes tanh for ganzoo's [-1, 1]
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``(N, channels, size, size)`` in [-1, 1] for noise ``z`` ``(N, latent_dim)``."""
        values = ganzoo.codes_from_noise(z, self.codes)
        parts = [z[:, :self.noise_dim]]
        for code in self.codes:
            value = values[code.name]
            parts.append(nn.functional.one_hot(value, code.size) if code.kind == "categorical" else value)
        return self.layers(torch.cat([part.to(z.dtype) for part in parts], dim=1))


class InfoGANDiscriminator(nn.Module):
    """Shared layers, then the adversarial logit and the recognition network Q: returns ``(logits, q)``."""

    def __init__(self, channels: int, size: int, q_outputs: int, batch_norm: bool) -> None:
        super().__init__()
        side = size // 4
        self.shared = nn.Sequential(  # input (channels) x 28 x 28 (32 x 32)
            # No BatchNorm on the input layer (the paper's table; Radford et al. 2015).
            nn.Conv2d(channels, 64, 4, 2, 1), nn.LeakyReLU(LEAKY_SLOPE),  # state size. 64 x 14 x 14
            nn.Conv2d(64, 128, 4, 2, 1, bias=not batch_norm), *_norm(nn.BatchNorm2d(128), batch_norm),
            nn.LeakyReLU(LEAKY_SLOPE),  # state size. 128 x 7 x 7 (8 x 8 at 32 px)
            nn.Flatten(),
            nn.Linear(128 * side * side, 1024, bias=not batch_norm), *_norm(nn.BatchNorm1d(1024), batch_norm),
            nn.LeakyReLU(LEAKY_SLOPE),  # (N, 1024): the features D and Q share
        )
        self.adversarial = nn.Linear(1024, 1)  # (N, 1) raw logit: the loss owns the link function
        self.recognition = nn.Sequential(
            nn.Linear(1024, 128, bias=False), nn.BatchNorm1d(128), nn.LeakyReLU(LEAKY_SLOPE),  # (N, 128)
            nn.Linear(128, q_outputs),  # (N, q_outputs): category logits, means (and log-stds), per code
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Adversarial logits ``(N,)`` and Q's raw output ``(N, q_outputs)``."""
        features = self.shared(x)
        return self.adversarial(features).reshape(-1), self.recognition(features)


def latent_codes(categories: int, continuous: int) -> tuple[ganzoo.LatentCode, ...]:
    """The codes for these option values: ``digit`` (when ``categories``), then ``c1`` ... ``c{continuous}``."""
    categories, continuous = _count("categories", categories), _count("continuous", continuous)
    if categories == 1:
        raise ganzoo.GanzooError("infogan option categories must be 0 (no categorical code) or at least 2; got 1")
    if categories == continuous == 0:
        raise ganzoo.GanzooError("infogan needs at least one latent code: set categories or continuous above 0")
    codes = [ganzoo.LatentCode("digit", "categorical", categories)] if categories else []
    codes += [ganzoo.LatentCode(f"c{index}", "continuous", 1) for index in range(1, continuous + 1)]
    return tuple(codes)


def q_width(codes: tuple[ganzoo.LatentCode, ...], learn_std: bool) -> int:
    """Columns of Q's output for ``codes``: K logits per categorical code, a mean (and log-std) per value."""
    return sum(code.size if code.kind == "categorical" else code.size * (2 if learn_std else 1) for code in codes)


def code_width(codes: tuple[ganzoo.LatentCode, ...]) -> int:
    """Columns of ``z`` the codes take (and of the generator's input: one-hot categories, one column per value)."""
    return sum(code.size for code in codes)


def infogan_init_(module: nn.Module) -> None:
    """The reference's initialisation: DCGAN's N(0, 0.02) weights, extended to fully connected layers
    and their BatchNorm (weights N(0, 0.02), scales N(1, 0.02), biases zero); use it with ``net.apply``."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, DCGAN_INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm1d) and module.affine:
        nn.init.normal_(module.weight, 1.0, DCGAN_INIT_STD)
        nn.init.zeros_(module.bias)
    else:
        dcgan_init_(module)


def _norm(layer: nn.Module, enabled: bool) -> list[nn.Module]:
    return [layer] if enabled else []


def _image_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in SIZES:
        raise ganzoo.GanzooError(f"infogan supports square images of size 28 or 32; got shape {shape}")
    return shape[0], shape[1]


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ganzoo.GanzooError(f"infogan option {name} must be a non-negative int; got {value!r}")
    return value


def _check_weights(*weights: object) -> None:
    for name, weight in zip(("info_weight", "continuous_weight"), weights):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ganzoo.GanzooError(f"infogan option {name} must be a non-negative number; got {weight!r}")


@ganzoo.hookimpl
def register_architectures(register):
    """Register the ``infogan`` architecture."""
    register(InfoGANArchitecture())
