"""Training throughput of every architecture of the zoo, at its recipe's settings, as ratios to dcgan in one run.

Each arm is a recipe (``ganzoo recipes``): its architecture at the reference
widths with the architecture's default spectral norm, its loss, its
``n_critic``, regularizers, augmentations and EMA, and its batch size (``--batch-size`` replaces
every recipe's, e.g. 256 on a GPU). The data are random images of the
recipe's dataset's shape held on the device (throughput does not depend on
pixel values, and no dataset has to be on the machine). One timed unit is a
generator step with its ``n_critic`` discriminator steps, as in a run; img/s
counts the generator's images per second. Rounds alternate between the
arms so machine noise hits all alike; medians are reported, with the ratio
to ``dcgan-cifar10`` and, with ``--peak-tflops``, the fraction of the peak
reached (FLOPs counted by torch's FLOP counter).

    python benchmarks/zoo_throughput.py                          # every CIFAR-10 recipe at its batch size
    python benchmarks/zoo_throughput.py --recipes dcgan-cifar10,sngan-cifar10,biggan-cifar10,stylegan2-cifar10 \\
        --device cuda --batch-size 256 --precision bf16 --compile --peak-tflops 989
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

import ganzoo
from ganzoo.registry import load_registry
from ganzoo.storage.config import resolve_hyperparameters, resolved_spectral_norm
from ganzoo.storage.recipes import config_from_recipe
from ganzoo.training.augmentation import Augmenting, resolve_augmentations
from ganzoo.training.batches import BatchStream
from ganzoo.training.regularization import Regularization, resolve_regularizers
from ganzoo.training.spectral_norm import apply_spectral_norm, networks_to_normalise
from ganzoo.training.techniques import Techniques
from ganzoo.training.trainer import AdversarialTrainer

BASELINE = "dcgan-cifar10"
SHAPES = {"cifar10": ((3, 32, 32), 10), "mnist": ((1, 28, 28), 10)}


def trainer_for(registry, name: str, args, device: torch.device, compile_networks: bool) -> tuple[AdversarialTrainer, int]:
    """The trainer of recipe ``name`` on random data, and its batch size."""
    recipe = registry.recipe(name)
    config = config_from_recipe(recipe, {"batch_size": args.batch_size} if args.batch_size else {})
    architecture, loss = registry.architecture(config.arch), registry.loss(config.loss)
    shape, classes = SHAPES[config.data]
    spec = ganzoo.DataSpec(shape, classes if architecture.conditional else 0)
    torch.manual_seed(0)
    options = {**architecture.options, **config.arch_options}
    generator, discriminator = architecture.build(spec, config.latent_dim, **options)
    for network, normalised in zip((generator, discriminator),
                                   networks_to_normalise(resolved_spectral_norm(config, architecture))):
        if normalised:
            apply_spectral_norm(network)
    images = torch.rand(max(1024, 4 * config.batch_size), *shape) * 2 - 1
    data = ganzoo.InMemoryDataset(images, torch.randint(0, classes, (len(images),)))
    regularizers = resolve_regularizers(config.regularizers, loss, registry)
    augmentations = resolve_augmentations(config.augmentations, registry)
    hyper = resolve_hyperparameters(config, loss)
    trainer = AdversarialTrainer(
        generator.to(device), discriminator.to(device), loss, BatchStream(data, config.batch_size, 0, device),
        latent_dim=config.latent_dim, n_critic=hyper["n_critic"], lr_g=hyper["lr_g"], lr_d=hyper["lr_d"],
        betas=hyper["betas"], grad_clip=None, conditional=architecture.conditional, device=device, seed=0,
        precision=args.precision, compile=compile_networks, optimizer=hyper["optimizer"],
        techniques=Techniques(regularization=Regularization(regularizers, registry, spec) if regularizers else None,
                              augmentation=Augmenting(augmentations, registry, spec) if augmentations else None,
                              ema_decay=config.ema),
        auxiliary_loss=lambda output, target: architecture.auxiliary_loss(output, target, **options),
    )
    return trainer, config.batch_size


def step_flops(trainer: AdversarialTrainer) -> float:
    """FLOPs of one step, or NaN where torch's counter cannot follow it (its hooks break R1's autograd.grad)."""
    try:
        with FlopCounterMode(display=False) as counter:
            trainer.step()
    except RuntimeError:
        return float("nan")
    return counter.get_total_flops()


def timed(trainer: AdversarialTrainer, steps: int, device: torch.device) -> float:
    trainer.step()  # outside the clock: first-call costs
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", help=f"comma-separated recipes (default: every CIFAR-10 recipe); {BASELINE} "
                                          "is always included as the baseline")
    parser.add_argument("--batch-size", type=int, help="replaces every recipe's batch size")
    parser.add_argument("--steps", type=int, default=5, help="timed generator steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default="fp32", help="fp32, bf16 or fp16 for every arm")
    parser.add_argument("--compile", action="store_true", help="also time each arm with --compile")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak at --precision, to print the fraction reached")
    args = parser.parse_args()

    device = torch.device(args.device)
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    print(f"machine: {machine}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"device {device}, precision {args.precision}")
    registry = load_registry()
    names = args.recipes.split(",") if args.recipes else [name for name in registry.names("recipes")
                                                           if name.endswith("cifar10")]
    names = [BASELINE] + [name for name in names if name != BASELINE]
    arms = {}
    for name in names:
        for compiled in (False, True) if args.compile else (False,):
            arm = name + (" + compile" if compiled else "")
            arms[arm] = trainer_for(registry, name, args, device, compiled)
    flops = {arm: step_flops(trainer) / batch for arm, (trainer, batch) in arms.items()}
    speeds = {arm: [] for arm in arms}
    for _ in range(args.rounds):
        for arm, (trainer, batch) in arms.items():
            speeds[arm].append(args.steps * batch / timed(trainer, args.steps, device))
    medians = {arm: statistics.median(values) for arm, values in speeds.items()}
    print(f"\n{'recipe':34s} {'batch':>5s} {'n_critic':>8s} {'img/s':>9s} {'vs dcgan':>9s} {'GFLOP/img':>10s}"
          + ("  of peak" if args.peak_tflops else ""))
    for arm, speed in medians.items():
        trainer, batch = arms[arm]
        peak = f"  {speed * flops[arm] / 1e12 / args.peak_tflops:7.1%}" if args.peak_tflops else ""
        print(f"{arm:34s} {batch:5d} {trainer.n_critic:8d} {speed:9.1f} {speed / medians[BASELINE]:8.3f}x "
              f"{flops[arm] / 1e9:10.2f}{peak}")


if __name__ == "__main__":
    main()
