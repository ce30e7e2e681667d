"""Batched, differentiable image transforms on the device, shared by regularizers and augmentations.

Each takes ``(N, C, H, W)`` images and draws its randomness per sample from
torch's default generator on the images' device, which a run's checkpoint
holds, so resumed runs draw the same transforms.
"""

from __future__ import annotations

import torch
from torch.nn import functional


def random_flip(images: torch.Tensor, probability: float = 0.5) -> torch.Tensor:
    """Each image mirrored left-right with ``probability``."""
    flip = torch.rand(images.shape[0], 1, 1, 1, device=images.device) < probability
    return torch.where(flip, images.flip(3), images)


def random_translation(images: torch.Tensor, fraction: float) -> torch.Tensor:
    """Each image shifted by a whole number of pixels, up to ``fraction`` of its size each way, zero-filled.

    Shifts are drawn uniformly from ``[-s, s]`` with ``s = round(fraction *
    size)`` per axis, as DiffAugment's translation does (ratio 1/8 there).
    """
    n, channels, height, width = images.shape
    shift_y, shift_x = round(fraction * height), round(fraction * width)
    if shift_x == 0 and shift_y == 0:
        return images
    padded = functional.pad(images, (shift_x, shift_x, shift_y, shift_y))
    offset_y = torch.randint(0, 2 * shift_y + 1, (n, 1, 1), device=images.device)
    offset_x = torch.randint(0, 2 * shift_x + 1, (n, 1, 1), device=images.device)
    rows = torch.arange(height, device=images.device).view(1, height, 1) + offset_y
    columns = torch.arange(width, device=images.device).view(1, 1, width) + offset_x
    index = (rows * (width + 2 * shift_x) + columns).view(n, 1, height * width).expand(n, channels, height * width)
    return padded.flatten(2).gather(2, index).view(n, channels, height, width)


def random_cutout(images: torch.Tensor, fraction: float) -> torch.Tensor:
    """Each image with one square of side ``round(fraction * size)`` set to zero at a random centre.

    The centre is uniform over the image, so the square may be clipped by the
    border, as in DiffAugment's cutout (ratio 1/2 there).
    """
    n, _, height, width = images.shape
    size_y, size_x = int(fraction * height + 0.5), int(fraction * width + 0.5)
    if size_x == 0 or size_y == 0:
        return images
    centre_y = torch.randint(0, height + (1 - size_y % 2), (n, 1, 1), device=images.device)
    centre_x = torch.randint(0, width + (1 - size_x % 2), (n, 1, 1), device=images.device)
    rows = torch.arange(height, device=images.device).view(1, height, 1) - (centre_y - size_y // 2)
    columns = torch.arange(width, device=images.device).view(1, 1, width) - (centre_x - size_x // 2)
    inside = (rows >= 0) & (rows < size_y) & (columns >= 0) & (columns < size_x)
    return images * (~inside).unsqueeze(1).to(images.dtype)
