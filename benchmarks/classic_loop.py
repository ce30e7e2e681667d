"""The classic GAN training loop that ganzoo's benchmarks measure against.

It is the pytorch/examples DCGAN loop (also the loop of PyTorch-GAN's
vanilla GAN): a shuffling DataLoader that collates item by item, sigmoid +
BCELoss, D on real then on fake, G's update reusing the same fakes, plain
Adam 2e-4 (0.5, 0.999), fp32, eager, a loss read every step. Samples are
drawn with the generator in train mode (batch statistics in batch norm), as
pytorch/examples draws its fixed-noise grids.
"""

from __future__ import annotations

import torch
from torch import nn

LATENT_DIM = 100


def classic_loop(generator, discriminator, dataset, batch_size, device, latent_dim=LATENT_DIM):
    """Yields after each step of the classic loop (seeded by torch's global RNG, as the original)."""
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
