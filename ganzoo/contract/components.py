"""The component contract: what a plugin registers.

Plugins subclass :class:`Architecture`, :class:`Loss` and :class:`Dataset`
and hand instances to the ``register`` callback of the matching hook (see
:mod:`ganzoo.contract.hookspecs`). Every class here is part of the public API that
third-party packages are written against; ``docs/plugins.md`` is the guide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from ganzoo.contract.dataspec import DataSpec
from ganzoo.contract.latents import AuxiliaryTarget, LatentCode

#: Keys a :attr:`Loss.defaults` mapping may contain, with what they set.
LOSS_DEFAULT_KEYS: Mapping[str, str] = {
    "n_critic": "discriminator steps per generator step (int)",
    "lr_g": "generator learning rate (float)",
    "lr_d": "discriminator learning rate (float)",
    "betas": "Adam betas for both optimizers (pair of floats)",
    "optimizer": "the optimizer of both networks: adam, adamw or rmsprop (str)",
    "architecture_options": "options passed to Architecture.build, applied only "
    "where the architecture declares them (mapping)",
    "regularizers": "--reg specifications applied unless the user gives --reg, "
    "e.g. ('gp',) or ('r1:gamma=10',) (tuple of str)",
}

#: Networks spectral normalisation can be applied to (``--spectral-norm``, ``Architecture.defaults``).
SPECTRAL_NORM_CHOICES = ("none", "discriminator", "generator", "both")

#: Keys an :attr:`Architecture.defaults` mapping may contain, with what they set.
ARCHITECTURE_DEFAULT_KEYS: Mapping[str, str] = {
    "spectral_norm": "the networks spectral normalisation is applied to unless the user gives --spectral-norm: "
    "none, discriminator, generator or both (str)",
}


class Architecture:
    """A generator/discriminator pair for some family of data shapes.

    Subclasses set :attr:`name` and :attr:`description` and implement
    :meth:`build`.

    Attributes:
        name: the kebab-case name users pass to ``--arch``.
        description: one line shown by ``ganzoo list-plugins``.
        options: option name -> default value for :meth:`build`. Users set
            them with ``--arch-option KEY=VALUE``; a loss's
            ``defaults["architecture_options"]`` sets those the architecture
            declares here. Values are bool, int, float, str or tuples of them.
        conditional: True when the networks take class labels: the generator
            is then called as ``generator(z, labels)`` and the discriminator
            as ``discriminator(x, labels)``, with ``labels`` a long tensor of
            shape ``(N,)``. Any discriminator may also return ``(logits,
            extra)``: an extra head's output that :meth:`auxiliary_loss`
            scores (by default, for a conditional architecture, class logits
            ``(N, num_classes)`` and ACGAN's cross-entropy in both losses).
        defaults: training settings the architecture is defined with, applied
            unless the user overrides them on the command line. Keys are those
            of :data:`ARCHITECTURE_DEFAULT_KEYS`; e.g. SNGAN's discriminator is
            spectrally normalised by definition: ``{"spectral_norm":
            "discriminator"}`` (``--spectral-norm none`` still turns it off).
            The engine applies it (:mod:`ganzoo.training.spectral_norm`), so
            the power-iteration state is checkpointed and generator files are
            folded; an architecture should not wrap its own layers.
    """

    name: str = ""
    description: str = ""
    options: Mapping[str, Any] = {}
    conditional: bool = False
    defaults: Mapping[str, Any] = {}

    def build(self, spec: DataSpec, latent_dim: int, **options: Any) -> tuple[nn.Module, nn.Module]:
        """Create fresh, initialised networks for data of ``spec``.

        Args:
            spec: the dataset's :class:`DataSpec`.
            latent_dim: size of the noise vector ``z``.
            **options: every key of :attr:`options`, with the value in force.

        Returns:
            ``(generator, discriminator)``. The generator maps ``z`` of shape
            ``(N, latent_dim)`` to samples ``(N, *spec.shape)`` in ``[-1, 1]``;
            the discriminator maps samples to raw logits of shape ``(N,)`` or
            ``(N, 1)``: no sigmoid, the loss owns the link function.

        Raises:
            GanzooError: when ``spec`` is a shape this architecture cannot
                produce; the message names the shape and the supported ones.
        """
        raise NotImplementedError

    def latent_codes(self, spec: DataSpec, latent_dim: int, **options: Any) -> tuple[LatentCode, ...]:
        """Structured codes the generator reads from the last columns of its noise ``z`` (InfoGAN).

        ganzoo draws ``z`` as standard-normal noise everywhere; the codes'
        columns are read with :func:`ganzoo.codes_from_noise` (uniform
        categories and uniform values on [-1, 1]; see :mod:`ganzoo.contract.latents`),
        and ``ganzoo sample --vary NAME`` sets one with :func:`ganzoo.noise_with_codes`.
        Called with the same arguments as :meth:`build`. The default: no codes.
        """
        return ()

    def auxiliary_loss(self, output: Any, target: AuxiliaryTarget, **options: Any) -> torch.Tensor | float:
        """The term added to a loss for the discriminator's extra output (``(logits, extra)``), weight included.

        Called for the real batch and the generated one in D's update (added
        to D's loss) and for the generated one in G's update (added to G's),
        with ``options`` those of :meth:`build`. Return 0.0 where a term does
        not apply (InfoGAN's mutual-information term scores generated samples
        only, against the codes in ``target.z``). The default is ACGAN's
        auxiliary classifier (Odena et al. 2017): the cross-entropy of class
        logits ``output`` against ``target.labels``, weight 1, on both batches.
        """
        if target.labels is None:
            return 0.0
        return nn.functional.cross_entropy(output.float(), target.labels)


class Loss:
    """An adversarial objective: what D and G minimise, plus an optional penalty.

    Both loss methods receive logits already flattened to shape ``(N,)`` and
    return a scalar tensor to be minimised.

    Attributes:
        name: the kebab-case name users pass to ``--loss``.
        description: one line shown by ``ganzoo list-plugins``.
        defaults: training settings this objective needs, applied unless the
            user overrides them on the command line. Keys are those of
            :data:`LOSS_DEFAULT_KEYS`, e.g. WGAN-GP's
            ``{"n_critic": 5, "betas": (0.0, 0.9),
            "architecture_options": {"discriminator_batch_norm": False}}``.
    """

    name: str = ""
    description: str = ""
    defaults: Mapping[str, Any] = {}
    #: True for objectives whose generator loss also reads D's logits on real
    #: data (relativistic losses): the trainer then evaluates the updated D on
    #: the step's real batch during G's update and passes those logits,
    #: detached, as ``generator_loss(fake_logits, real_logits)``. False (the
    #: default) keeps the one-argument call, and the extra D pass is skipped.
    generator_needs_real: bool = False

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """The discriminator's (critic's) loss for one batch of real and fake logits.

        Args:
            real_logits: D's outputs on real samples, flattened to shape ``(N,)``.
            fake_logits: D's outputs on generated samples, shape ``(M,)``.

        Returns:
            The scalar loss to minimise. Overrides document their formula.
        """
        raise NotImplementedError

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """The generator's loss for the discriminator's logits on its samples.

        Args:
            fake_logits: D's outputs on generated samples, flattened to shape ``(N,)``.

        A loss with :attr:`generator_needs_real` set is called with a second
        argument, ``real_logits``: D's outputs on the step's real batch, shape
        ``(N,)``, detached (the generator's gradient flows through
        ``fake_logits`` only); it declares ``generator_loss(self, fake_logits,
        real_logits)``.

        Returns:
            The scalar loss to minimise.
        """
        raise NotImplementedError

    def penalty(
        self,
        discriminator: Callable[[torch.Tensor], torch.Tensor],
        real: torch.Tensor,
        fake: torch.Tensor,
    ) -> torch.Tensor | float:
        """An extra term added to the discriminator loss (default: none).

        Args:
            discriminator: maps a batch of samples to logits of shape ``(N,)``
                (for conditional models the labels are already bound).
            real: the real batch, ``(N, *spec.shape)``.
            fake: the generated batch, detached from the generator's graph.

        Returns:
            A scalar tensor (or ``0.0`` for no penalty). It is differentiated
            with respect to the discriminator's parameters only.
        """
        return 0.0

    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        """Called after every discriminator optimizer step, under ``torch.no_grad()`` (default: nothing).

        For constraints a loss imposes on the critic's weights directly, such
        as WGAN's weight clipping. ``discriminator`` is the plain module
        (never a DistributedDataParallel or compiled wrapper); changing its
        parameters in place is what this hook is for. Every process calls it
        with the same weights, so a deterministic change keeps the replicas
        identical.
        """


class Dataset:
    """A source of training samples with a fixed :class:`DataSpec`.

    Attributes:
        name: the kebab-case name users pass to ``--data``.
        description: one line shown by ``ganzoo list-plugins``.
        spec: the shape and classes of the samples :meth:`load` returns.
        options: option name -> default value for :meth:`load` and
            :meth:`spec_for`; users set them with ``--data-option KEY=VALUE``.
    """

    name: str = ""
    description: str = ""
    spec: DataSpec
    options: Mapping[str, Any] = {}

    def load(self, root: str, train: bool = True, download: bool = True, **options: Any) -> torch.utils.data.Dataset:
        """Return the train or test split as a ``torch.utils.data.Dataset``.

        Args:
            root: the data directory (``--data-root``, else ``$GANZOO_DATA``,
                else a per-user cache directory).
            train: the training split when True, the test split otherwise.
            download: whether fetching missing files is allowed.
            **options: every key of :attr:`options`, with the value in force.

        Returns:
            A dataset whose items are ``(sample, label)``: a float tensor of
            ``spec.shape`` in ``[-1, 1]`` and an int label (0 when the data
            has no classes).

        Raises:
            GanzooError: when the data is missing and cannot be fetched; the
                message says where to put the files.
        """
        raise NotImplementedError

    def spec_for(self, root: str, **options: Any) -> DataSpec:
        """The spec of the data :meth:`load` would return for these arguments.

        Override it when the spec depends on the root or the options (an
        image folder's size and classes); the default returns :attr:`spec`.
        """
        return self.spec
