"""The adversarial training step, independent of any plugin.

One step = ``n_critic`` discriminator updates, then one generator update
that reuses the fakes of the last discriminator update (the generator's
graph is kept for that batch only, so no second generator pass is needed).
Techniques (regularizers, ...) come in one :class:`Techniques` value and are
called at fixed points of the step (docs/design.md lists them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganzoo.storage.checkpoint import load_module, load_optimizer, module_tensors, optimizer_parts
from ganzoo.contract.components import Architecture, Loss
from ganzoo.contract.latents import AuxiliaryTarget
from ganzoo.contract.regularizers import CriticBatch, GeneratorBatch
from ganzoo.distributed.world import World
from ganzoo.training.fastpath import compiled, make_optimizer, prefer_channels_last
from ganzoo.compute.precision import Precision
from ganzoo.training.techniques import Techniques


@dataclass
class StepLosses:
    """The losses of one step, still on the device (reading them syncs it)."""

    discriminator: torch.Tensor
    generator: torch.Tensor
    penalty: torch.Tensor


class AdversarialTrainer:
    """Owns the two networks, their optimizers and the noise RNG; runs steps.

    Args:
        generator, discriminator: from ``Architecture.build``, already on ``device``.
        loss: the :class:`ganzoo.Loss` in force.
        batches: an iterator of ``(real, labels)`` on ``device``.
        latent_dim: size of ``z``.
        n_critic: discriminator updates per generator update.
        lr_g, lr_d, betas: optimizer settings (betas for Adam and AdamW).
        optimizer: ``adam``, ``adamw`` or ``rmsprop``, for both networks.
        techniques: regularizers and other techniques of the run (:class:`Techniques`).
        auxiliary_loss: scores a discriminator's extra output (``(logits, extra)``) against an
            :class:`~ganzoo.AuxiliaryTarget`: the architecture's ``auxiliary_loss`` with its options
            (ACGAN's cross-entropy, InfoGAN's mutual-information term); None: ACGAN's default.
        grad_clip: max gradient norm for both networks, or None.
        conditional: pass labels to both networks.
        device: where the networks live.
        seed: seeds the noise RNG.
        precision: ``auto``, ``fp32``, ``bf16`` or ``fp16`` (see :mod:`ganzoo.compute.precision`).
        compile: run the networks' forward passes through ``torch.compile``.
        world: the processes training together (see :mod:`ganzoo.distributed.world`);
            None for one process. With several, ``batches`` yields this
            rank's share of each global batch, both networks train through
            DistributedDataParallel and the noise is this rank's share of
            the global batch's noise, so a step computes what one process
            would with the whole batch.

    Convolutional networks are switched to channels-last memory format and
    the optimizers run fused where the device supports it (see :mod:`ganzoo.training.fastpath`).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        loss: Loss,
        batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
        *,
        latent_dim: int,
        n_critic: int,
        lr_g: float,
        lr_d: float,
        betas: tuple[float, float],
        grad_clip: float | None,
        conditional: bool,
        device: torch.device,
        seed: int,
        precision: str = "fp32",
        compile: bool = False,
        world: World | None = None,
        optimizer: str = "adam",
        techniques: Techniques | None = None,
        auxiliary_loss: Callable[[Any, AuxiliaryTarget], torch.Tensor | float] | None = None,
    ) -> None:
        self.generator = prefer_channels_last(generator)
        self.discriminator = prefer_channels_last(discriminator)
        self.loss = loss
        self.auxiliary_loss = auxiliary_loss or Architecture().auxiliary_loss
        self.batches = batches
        self.latent_dim = latent_dim
        self.n_critic = n_critic
        self.grad_clip = grad_clip
        self.conditional = conditional
        self.device = device
        self.optimizer_g = make_optimizer(optimizer, generator, lr=lr_g, betas=betas)
        self.optimizer_d = make_optimizer(optimizer, discriminator, lr=lr_d, betas=betas)
        self.noise_rng = torch.Generator(device=device).manual_seed(seed)
        self.techniques = (techniques or Techniques()).attach(self.generator)
        self.regularization, self.augmentation = self.techniques.regularization, self.techniques.augmentation
        self.average = self.techniques.average
        self.discriminator_updates = 0  # counts D updates for lazy regularizers; checkpointed
        self.generator_updates = 0  # counts G updates for lazy generator-side regularizers; checkpointed
        self.precision = Precision(precision, device)
        self.world = world or World.single(device)
        # Checkpoints and sampling use the plain modules; only the training step runs the wrapped ones.
        # CUDA graphs do not capture DDP's gradient all-reduce, so several processes compile without them.
        compile_mode = "default" if self.world.distributed else None
        self._generator_forward = _maybe_compiled(self.world.wrap(generator), device, compile, compile_mode)
        # A gradient penalty differentiates D twice, which compiled graphs do not support.
        input_gradients = self.regularization is not None and self.regularization.needs_input_gradients
        compile_critic = compile and type(loss).penalty is Loss.penalty and not input_gradients
        self._discriminator_forward = _maybe_compiled(self.world.wrap(discriminator), device, compile_critic, compile_mode)
        # G's update reads D without updating it: through DDP it would wait for D gradients that never come.
        self._frozen_discriminator_forward = (
            _maybe_compiled(discriminator, device, compile_critic, compile_mode) if self.world.distributed
            else self._discriminator_forward
        )

    def step(self) -> StepLosses:
        """One generator step and the ``n_critic`` discriminator steps before it."""
        for critic_step in range(self.n_critic):
            real, labels = next(self.batches)
            keep_graph = critic_step == self.n_critic - 1
            with torch.set_grad_enabled(keep_graph), self.precision.autocast():
                fake, z = self._generate(len(real), labels)
            d_loss, penalty = self._update_discriminator(real, fake.detach(), labels, z)
        g_loss, generator_penalty = self._update_generator(fake, labels, real, z)
        penalty = penalty + generator_penalty
        # A loss without a penalty returns 0.0; a zero on the device avoids a host-to-device copy per step.
        penalty = penalty.detach() if torch.is_tensor(penalty) else torch.zeros_like(d_loss).add_(penalty)
        return StepLosses(d_loss.detach(), g_loss.detach(), penalty)

    def _generate(self, count: int, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Every rank draws the global batch's noise and keeps its share: the RNG stays the same on all ranks
        # (one checkpoint resumes them all) and the step matches one process with the whole batch.
        z = torch.randn(count * self.world.size, self.latent_dim, device=self.device, generator=self.noise_rng)
        z = self.world.shard(z)
        return (self._generator_forward(z, labels) if self.conditional else self._generator_forward(z)), z

    def _discriminate(self, samples: torch.Tensor, labels: torch.Tensor,
                      frozen: bool = False) -> tuple[torch.Tensor, Any]:
        """Adversarial logits ``(N,)`` and a discriminator's extra output (class logits, InfoGAN's Q), or None.

        Logits leave the network as float32 whatever the precision: losses own the numerics.
        ``frozen``: for G's update, which reads D without training it. The ``--augment`` pipes
        transform ``samples`` first: every batch D sees goes through here.
        """
        network = self._frozen_discriminator_forward if frozen else self._discriminator_forward
        if self.augmentation is not None:
            samples = self.augmentation(samples)
        output = network(samples, labels) if self.conditional else network(samples)
        if isinstance(output, tuple):
            logits, extra = output
            return logits.reshape(-1).float(), extra
        return output.reshape(-1).float(), None

    def _auxiliary(self, extra: Any, labels: torch.Tensor, z: torch.Tensor | None, generator_update: bool) -> Any:
        """The architecture's term for D's extra output (0.0 without one); ``z`` None for the real batch."""
        if extra is None:
            return 0.0
        target = AuxiliaryTarget(real=z is None, labels=labels if self.conditional else None, z=z,
                                 generator_update=generator_update)
        return self.auxiliary_loss(extra, target)

    def _update_discriminator(self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor,
                              z: torch.Tensor) -> tuple[torch.Tensor, Any]:
        if self.augmentation is not None:
            real = self.augmentation.data(real)  # dataset augmentations (flips) of the real batch alone
        with self.precision.autocast():
            real_logits, real_extra = self._discriminate(real, labels)
            fake_logits, fake_extra = self._discriminate(fake, labels)
            loss = self.loss.discriminator_loss(real_logits, fake_logits)
            loss = loss + self._auxiliary(real_extra, labels, None, False) + self._auxiliary(fake_extra, labels, z, False)
            critic = lambda samples: self._discriminate(samples, labels)[0]
            penalty = self.loss.penalty(critic, real, fake)
            if self.regularization is not None:
                batch = CriticBatch(critic, real, fake, real_logits, fake_logits, self.world.mean)
                penalty = penalty + self.regularization.penalty(batch, self.discriminator_updates)
        self.discriminator_updates += 1
        self.optimizer_d.zero_grad(set_to_none=True)
        self.precision.step("discriminator", loss + penalty, self.optimizer_d, lambda: self._clip(self.discriminator))
        with torch.no_grad():
            self.loss.after_discriminator_step(self.discriminator)
            if self.augmentation is not None:
                self.augmentation.observe(real_logits.detach(), self.world.mean, len(real) * self.world.size)
        return loss, penalty

    def _update_generator(self, fake: torch.Tensor, labels: torch.Tensor, real: torch.Tensor,
                          z: torch.Tensor) -> tuple[torch.Tensor, Any]:
        # Freezing D skips computing its parameter gradients, which G's update never uses.
        self.discriminator.requires_grad_(False)
        try:
            with self.precision.autocast():
                logits, extra = self._discriminate(fake, labels, frozen=True)
                if self.loss.generator_needs_real:
                    with torch.no_grad():
                        real_logits, _ = self._discriminate(real, labels, frozen=True)
                    adversarial = self.loss.generator_loss(logits, real_logits)
                else:
                    adversarial = self.loss.generator_loss(logits)
                loss = adversarial + self._auxiliary(extra, labels, z, True)
                penalty: Any = 0.0
                if self.regularization is not None and self.regularization.regularizes_generator:
                    batch = GeneratorBatch(self.generator, z, labels if self.conditional else None, fake, self.world.mean)
                    penalty = self.regularization.generator_penalty(batch, self.generator_updates)
            self.generator_updates += 1
            self.optimizer_g.zero_grad(set_to_none=True)
            self.precision.step("generator", loss + penalty, self.optimizer_g, lambda: self._clip(self.generator))
        finally:
            self.discriminator.requires_grad_(True)
        if self.average is not None:
            self.average.update()
        return loss, penalty

    def _clip(self, network: nn.Module) -> None:
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(network.parameters(), self.grad_clip)

    def replicated_tensors(self) -> dict[str, torch.Tensor]:
        """Weights, optimizer states and techniques' state (the EMA generator, LeCam's anchors, ADA's p): what
        data-parallel ranks hold bit-identical (batch-norm running statistics are per rank unless ``--sync-bn``)."""
        tensors = {f"generator.{name}": p for name, p in self.generator.named_parameters()}
        tensors.update({f"discriminator.{name}": p for name, p in self.discriminator.named_parameters()})
        for prefix, optimizer in (("optimizer_g", self.optimizer_g), ("optimizer_d", self.optimizer_d)):
            tensors.update(optimizer_parts(prefix, optimizer)[0])
        tensors.update(self.techniques.replicated_tensors())
        return tensors

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Tensors and JSON metadata for a resumable checkpoint."""
        tensors = {**module_tensors("generator", self.generator), **module_tensors("discriminator", self.discriminator)}
        g_tensors, g_meta = optimizer_parts("optimizer_g", self.optimizer_g)
        d_tensors, d_meta = optimizer_parts("optimizer_d", self.optimizer_d)
        tensors.update(g_tensors)
        tensors.update(d_tensors)
        tensors.update(self.techniques.state_tensors())
        tensors["rng.noise"] = self.noise_rng.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        return tensors, {"optimizer_g": g_meta, "optimizer_d": d_meta, "grad_scalers": self.precision.state(),
                         "discriminator_updates": self.discriminator_updates, "generator_updates": self.generator_updates}

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], path: object) -> None:
        """Restore what :meth:`state` saved."""
        load_module("generator", self.generator, tensors, path)
        load_module("discriminator", self.discriminator, tensors, path)
        load_optimizer("optimizer_g", self.optimizer_g, tensors, meta["optimizer_g"])
        load_optimizer("optimizer_d", self.optimizer_d, tensors, meta["optimizer_d"])
        self.precision.load_state(meta.get("grad_scalers", {}))
        self.techniques.load_state_tensors(tensors, meta, path)
        # Checkpoints from before lazy regularizers counted D updates: every step did n_critic of them.
        self.discriminator_updates = int(meta.get("discriminator_updates", int(meta.get("step", 0)) * self.n_critic))
        self.generator_updates = int(meta.get("generator_updates", meta.get("step", 0)))
        self.noise_rng.set_state(tensors["rng.noise"])
        torch.set_rng_state(tensors["rng.torch"])
        if self.device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)


def _maybe_compiled(network: nn.Module, device: torch.device, compile: bool, mode: str | None) -> nn.Module:
    return compiled(network, device, mode) if compile else network

