"""What each technique costs: training img/s with it on against the plain step, in one process.

Every arm is ganzoo's own trainer on the same networks (built by the same
plugin, same seed) and the same data at ganzoo's defaults (preloaded
batches, channels-last, fused Adam, ``--precision auto``); arms differ by one
technique each: ``--ema``, ``--augment`` (``ada`` held at p = 0.5,
``diffaugment`` with all three policies, ``flip``), ``--spectral-norm
discriminator``, and ``--reg`` terms (``r1`` eager and lazy every 16
updates, ``gp``, ``lecam``, ``cr``).
Rounds alternate between the arms, in a shuffled order each round, so
machine noise hits all alike; the median of each is reported with its ratio
to the plain step, and a second plain arm shows the noise floor. On CUDA,
``--check-syncs`` runs the timed steps under ``torch.cuda.set_sync_debug_mode
("error")``, so an arm that makes the host wait for the device fails.

    python benchmarks/technique_cost.py --data-root ../shared/data --arch-option base_width=64
    python benchmarks/technique_cost.py --device cuda --batch-size 256 --check-syncs
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time

import torch

from ganzoo.compute.precision import resolve_precision
from ganzoo.registry import load_registry
from ganzoo.registry.options import parse_assignments, resolve_options
from ganzoo.training.augmentation import Augmenting, resolve_augmentations
from ganzoo.training.batches import BatchStream
from ganzoo.training.regularization import Regularization, resolve_regularizers
from ganzoo.training.spectral_norm import apply_spectral_norm
from ganzoo.training.techniques import Techniques
from ganzoo.training.trainer import AdversarialTrainer

LATENT_DIM = 100
#: arm name -> (``--reg`` values, ``--augment`` values, EMA decay, spectral norm on D)
ARMS = {
    "plain": ((), (), None, False),
    "plain (again: the noise floor)": ((), (), None, False),
    "--ema 0.999": ((), (), 0.999, False),
    "--augment ada (p=0.5)": ((), ("ada",), None, False),
    "--augment diffaugment": ((), ("diffaugment",), None, False),
    "--augment flip": ((), ("flip",), None, False),
    "--spectral-norm discriminator": ((), (), None, True),
    "--reg r1": (("r1",), (), None, False),
    "--reg r1:every=16": (("r1:every=16",), (), None, False),
    "--reg gp": (("gp",), (), None, False),
    "--reg lecam": (("lecam",), (), None, False),
    "--reg cr": (("cr",), (), None, False),
}


def timed(trainer, steps, device, check_syncs):
    trainer.step()  # one step outside the clock
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        if check_syncs:
            torch.cuda.set_sync_debug_mode("error")
    start = time.perf_counter()
    try:
        for _ in range(steps):
            trainer.step()
    finally:
        if device.type == "cuda":
            torch.cuda.set_sync_debug_mode("default")
            torch.cuda.synchronize(device)
    return time.perf_counter() - start


def build(registry, arch, data, args, device, arm):
    regs, augments, ema, spectral = ARMS[arm]
    architecture, loss, dataset = registry.architecture(arch), registry.loss(args.loss), registry.dataset(data)
    spec = dataset.spec_for(args.data_root)
    train_data = dataset.load(args.data_root, train=True, download=False)
    torch.manual_seed(0)
    options = resolve_options(architecture.options, parse_assignments(args.arch_option, "--arch-option"),
                              owner=f"architecture '{arch}'", flag="--arch-option")
    g, d = architecture.build(spec, LATENT_DIM, **options)
    if spectral:
        apply_spectral_norm(d)
    choices = resolve_regularizers(list(regs), loss, registry)
    regularization = Regularization(choices, registry, spec).to(device) if choices else None
    augmentation = None
    if augments:
        augmentation = Augmenting(resolve_augmentations(list(augments), registry), registry, spec).to(device)
        for pipe in augmentation.pipes:
            if hasattr(pipe, "p"):
                pipe.p.fill_(0.5)  # mid-training ADA: half the transforms on; p = 0 would cost nothing
    return AdversarialTrainer(
        g.to(device), d.to(device), loss, BatchStream(train_data, args.batch_size, 0, device), latent_dim=LATENT_DIM,
        n_critic=1, lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), grad_clip=None, conditional=False, device=device,
        seed=0, precision=resolve_precision("auto", device),
        techniques=Techniques(regularization=regularization, augmentation=augmentation, ema_decay=ema),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dcgan:cifar10", help="ARCH:DATA")
    parser.add_argument("--loss", default="bce")
    parser.add_argument("--arch-option", action="append", default=[], metavar="KEY=VALUE",
                        help="an architecture option, as for ganzoo run (repeatable)")
    parser.add_argument("--arms", default=",".join(ARMS), help="comma-separated arm names (see ARMS)")
    parser.add_argument("--data-root", default=os.environ.get("GANZOO_DATA", "../shared/data"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--check-syncs", action="store_true", help="CUDA: fail any arm that syncs the host per step")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    print(f"machine: {machine}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"device {device}, precision {resolve_precision('auto', device)}")
    registry = load_registry()
    arch, data = args.model.split(":")
    arms = [arm.strip() for arm in args.arms.split(",")]
    trainers = {arm: build(registry, arch, data, args, device, arm) for arm in arms}
    speeds = {arm: [] for arm in arms}
    for round_index in range(args.rounds):
        order = list(trainers)
        random.Random(round_index).shuffle(order)  # no arm always runs first (or right after a slow one)
        for arm in order:
            speeds[arm].append(args.steps * args.batch_size / timed(trainers[arm], args.steps, device, args.check_syncs))
    medians = {arm: statistics.median(values) for arm, values in speeds.items()}
    base = medians.get("plain")
    print(f"\n{arch} + {args.loss} on {data}, batch {args.batch_size}, {args.rounds} rounds x {args.steps} steps")
    print(f"{'arm':32s} {'img/s':>8s} {'vs plain':>9s} {'cost':>7s}")
    for arm, speed in medians.items():
        ratio = speed / base if base else float("nan")
        print(f"{arm:32s} {speed:8.1f} {ratio:8.3f}x {1 - ratio:6.1%}")


if __name__ == "__main__":
    main()
