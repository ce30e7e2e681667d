"""Training throughput of ganzoo's engine against the classic GAN loop, in one process.

The baseline is the pytorch/examples DCGAN loop: a shuffling DataLoader that
collates item by item, sigmoid + BCELoss, D on real then fake, G update
reusing the fakes, fp32, eager. Both loops train the same networks (built by
the same plugin) on the same data; rounds alternate between them so machine
noise hits both alike, and the median ratio is reported.

    python benchmarks/train_throughput.py --arch dcgan --data cifar10 --data-root ../shared/data
    python benchmarks/train_throughput.py --arch mlp --data mnist --data-root ../shared/data
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from torch import nn

from ganzoo.batches import BatchStream
from ganzoo.registry import load_registry
from ganzoo.training import AdversarialTrainer


def classic_loop(generator, discriminator, dataset, batch_size, latent_dim, device):
    """Yields after each step of the pytorch/examples DCGAN training loop."""
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True)
    while True:
        for real, _ in loader:
            real = real.to(device)
            ones = torch.ones(len(real), device=device)
            zeros = torch.zeros(len(real), device=device)
            discriminator.zero_grad()
            loss_real = criterion(torch.sigmoid(discriminator(real).reshape(-1)), ones)
            loss_real.backward()
            fake = generator(torch.randn(len(real), latent_dim, device=device))
            loss_fake = criterion(torch.sigmoid(discriminator(fake.detach()).reshape(-1)), zeros)
            loss_fake.backward()
            opt_d.step()
            generator.zero_grad()
            loss_g = criterion(torch.sigmoid(discriminator(fake).reshape(-1)), ones)
            loss_g.backward()
            opt_g.step()
            loss_g.item()  # the classic loop prints losses every step, which syncs the device
            yield


def ganzoo_loop(trainer):
    """Yields after each ganzoo training step."""
    while True:
        trainer.step()
        yield


def timed(loop, steps):
    next(loop)  # warm-up step outside the clock
    start = time.perf_counter()
    for _ in range(steps):
        next(loop)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="dcgan")
    parser.add_argument("--loss", default="bce")
    parser.add_argument("--data", default="cifar10")
    parser.add_argument("--data-root", default=os.environ.get("GANZOO_DATA", "../shared/data"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    registry = load_registry()
    architecture, loss, dataset = registry.architecture(args.arch), registry.loss(args.loss), registry.dataset(args.data)
    spec = dataset.spec_for(args.data_root)
    data = dataset.load(args.data_root, train=True, download=False)
    device = torch.device(args.device)
    latent_dim = 100

    def networks():
        torch.manual_seed(0)
        g, d = architecture.build(spec, latent_dim, **architecture.options)
        return g.to(device), d.to(device)

    baseline = classic_loop(*networks(), data, args.batch_size, latent_dim, device)
    g, d = networks()
    trainer = AdversarialTrainer(
        g, d, loss, BatchStream(data, args.batch_size, 0, device), latent_dim=latent_dim, n_critic=1,
        lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), grad_clip=None, conditional=False, device=device, seed=0,
    )
    engine = ganzoo_loop(trainer)

    ratios, speeds = [], {"classic": [], "ganzoo": []}
    for _ in range(args.rounds):
        classic_seconds = timed(baseline, args.steps)
        ganzoo_seconds = timed(engine, args.steps)
        speeds["classic"].append(args.steps * args.batch_size / classic_seconds)
        speeds["ganzoo"].append(args.steps * args.batch_size / ganzoo_seconds)
        ratios.append(classic_seconds / ganzoo_seconds)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    print(f"{args.arch} + {args.loss} on {args.data}, batch {args.batch_size}, {args.rounds} rounds x {args.steps} steps")
    print(f"classic loop: {statistics.median(speeds['classic']):8.0f} img/s (median)")
    print(f"ganzoo:       {statistics.median(speeds['ganzoo']):8.0f} img/s (median)")
    print(f"ratio ganzoo/classic: {statistics.median(ratios):.2f}x (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
