"""Training throughput of ganzoo's engine against the classic GAN loop, in one process.

The baseline is the pytorch/examples DCGAN loop: a shuffling DataLoader that
collates item by item, sigmoid + BCELoss, D on real then fake, G update
reusing the fakes, plain Adam, fp32, eager, a loss read every step. ganzoo
runs the same networks (built by the same plugin) on the same data, once in
fp32 and once with its defaults (``--precision auto``: bf16 where the hardware
has it; preloaded data, channels-last, fused Adam), plus ``--compile`` when
asked. Rounds alternate between the loops so machine noise hits all alike;
the median of each is reported with the ratio to the classic loop.

    python benchmarks/train_throughput.py --data-root ../shared/data
    python benchmarks/train_throughput.py --models dcgan:cifar10 --batch-size 512 --device cuda --compile
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from classic_loop import LATENT_DIM, classic_loop
from torch.utils.flop_counter import FlopCounterMode

import ganzoo
from ganzoo.compute.precision import resolve_precision
from ganzoo.registry import load_registry
from ganzoo.training.batches import BatchStream
from ganzoo.training.trainer import AdversarialTrainer


def ganzoo_loop(trainer):
    """Yields after each ganzoo training step (losses stay on the device, as in a run)."""
    while True:
        trainer.step()
        yield


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(loop, steps, device):
    next(loop)  # one step outside the clock
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        next(loop)
    synchronize(device)
    return time.perf_counter() - start


def step_flops(trainer):
    """Floating-point operations of one ganzoo training step, counted by torch's FLOP counter."""
    with FlopCounterMode(display=False) as counter:
        trainer.step()
    return counter.get_total_flops()


def benchmark(registry, arch, data, args, device):
    architecture, loss, dataset = registry.architecture(arch), registry.loss("bce"), registry.dataset(data)
    if args.synthetic:  # random pixels of the dataset's shape: throughput does not depend on them
        spec = dataset.spec
        train_data = ganzoo.InMemoryDataset(torch.randint(0, 256, (4096, *spec.shape), dtype=torch.uint8))
    else:
        spec = dataset.spec_for(args.data_root)
        train_data = dataset.load(args.data_root, train=True, download=False)

    def networks():
        torch.manual_seed(0)
        g, d = architecture.build(spec, LATENT_DIM, **architecture.options)
        return g.to(device), d.to(device)

    def engine(precision, compile_networks=False):
        g, d = networks()
        return AdversarialTrainer(
            g, d, loss, BatchStream(train_data, args.batch_size, 0, device), latent_dim=LATENT_DIM, n_critic=1,
            lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), grad_clip=None, conditional=False, device=device, seed=0,
            precision=precision, compile=compile_networks,
        )

    fast_precision = resolve_precision("auto", device)
    trainers = {"ganzoo fp32": engine("fp32"), f"ganzoo default ({fast_precision})": engine(fast_precision)}
    if args.compile:
        trainers[f"ganzoo {fast_precision} + compile"] = engine(fast_precision, compile_networks=True)
    flops_per_image = step_flops(trainers["ganzoo fp32"]) / args.batch_size
    loops = {"classic fp32": classic_loop(*networks(), train_data, args.batch_size, device)}
    loops.update({name: ganzoo_loop(trainer) for name, trainer in trainers.items()})

    speeds = {name: [] for name in loops}
    for _ in range(args.rounds):
        for name, loop in loops.items():
            speeds[name].append(args.steps * args.batch_size / timed(loop, args.steps, device))
    medians = {name: statistics.median(values) for name, values in speeds.items()}

    print(f"\n{arch} + bce on {data}, batch {args.batch_size}, {args.rounds} rounds x {args.steps} steps, "
          f"{flops_per_image / 1e9:.3f} GFLOP per image per step")
    print(f"{'loop':34s} {'img/s':>9s} {'vs classic':>11s} {'TFLOP/s':>8s}" + ("  of peak" if args.peak_tflops else ""))
    for name, speed in medians.items():
        tflops = speed * flops_per_image / 1e12
        peak = f"  {tflops / args.peak_tflops:7.1%}" if args.peak_tflops else ""
        print(f"{name:34s} {speed:9.0f} {speed / medians['classic fp32']:10.2f}x {tflops:8.3f}{peak}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="dcgan:cifar10,mlp:mnist", help="comma-separated ARCH:DATA pairs")
    parser.add_argument("--data-root", default=os.environ.get("GANZOO_DATA", "../shared/data"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--compile", action="store_true", help="also time ganzoo with --compile")
    parser.add_argument("--synthetic", action="store_true",
                        help="random images of the dataset's shape instead of the dataset (no data on the machine)")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak for the fast path's precision, to print the fraction reached")
    args = parser.parse_args()

    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    print(f"machine: {name}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    registry = load_registry()
    for pair in args.models.split(","):
        arch, data = pair.split(":")
        benchmark(registry, arch, data, args, device)


if __name__ == "__main__":
    main()
