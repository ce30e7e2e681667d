"""ADA: adaptive discriminator augmentation (Karras et al. 2020)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional

import ganzoo
from ganzoo import Augmentation, AugmentPipe, DataSpec

#: The reference pipeline's ranges ("bgc": blit, geometric, color; Karras et al. 2020, Appendix B).
RANGES = {"xint_max": 0.125, "scale_std": 0.2, "rotate_max": 1.0, "aniso_std": 0.2, "xfrac_std": 0.125,
          "brightness_std": 0.2, "contrast_std": 0.5, "hue_max": 1.0, "saturation_std": 1.0}
_LUMA = torch.tensor([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3)


def _affine2d(a, b, c, d, tx, ty) -> torch.Tensor:
    """Per-sample 3x3 matrices ``[[a, b, tx], [c, d, ty], [0, 0, 1]]`` from ``(N,)`` tensors, in one stack."""
    zeros, ones = torch.zeros_like(a), torch.ones_like(a)
    return torch.stack([a, b, tx, c, d, ty, zeros, zeros, ones], -1).view(-1, 3, 3)


def _scale2d(sx, sy):
    zeros = torch.zeros_like(sx)
    return _affine2d(sx, zeros, zeros, sy, zeros, zeros)


def _rotate2d(theta):
    zeros, cos, sin = torch.zeros_like(theta), theta.cos(), theta.sin()
    return _affine2d(cos, -sin, sin, cos, zeros, zeros)


def _translate2d(tx, ty):
    ones, zeros = torch.ones_like(tx), torch.zeros_like(tx)
    return _affine2d(ones, zeros, zeros, ones, tx, ty)


def _colour_constants(device: torch.device) -> dict[str, torch.Tensor]:
    """4x4 constants of the colour transforms: the luma axis's projector and cross-product matrix."""
    v = _LUMA.to(device)
    cross = torch.zeros(4, 4, device=device)
    cross[0, 1], cross[0, 2], cross[1, 2] = -v[2], v[1], -v[0]
    cross = cross - cross.t()
    rgb = torch.diag(torch.tensor([1.0, 1.0, 1.0, 0.0], device=device))
    last = torch.zeros(4, 4, device=device)
    last[3, 3] = 1.0
    offset = torch.zeros(4, 4, device=device)
    offset[:3, 3] = 1.0
    return {"outer": torch.outer(v, v), "cross": cross, "rgb": rgb, "last": last, "offset": offset,
            "eye": torch.eye(4, device=device)}


class _AdaPipe(AugmentPipe):
    def __init__(self, spec: DataSpec, target: float, interval: int, speed_kimg: float) -> None:
        super().__init__()
        self.channels, self.height, self.width = spec.shape
        self.target, self.interval, self.speed_kimg = target, interval, speed_kimg
        self.register_buffer("p", torch.zeros(()))
        self.register_buffer("sign_sum", torch.zeros(()))
        self.register_buffer("observed", torch.zeros((), dtype=torch.long))
        self._constants: dict[torch.device, dict[str, torch.Tensor]] = {}

    def constants(self, device: torch.device) -> dict[str, torch.Tensor]:
        """The colour transforms' 4x4 constants and the pixel scaling, built once per device."""
        if device not in self._constants:
            constants = _colour_constants(device)
            constants["half"] = torch.tensor([self.width / 2, self.height / 2, 1.0], device=device)
            constants["eye3"] = torch.eye(3, device=device)
            self._constants[device] = constants
        return self._constants[device]

    def _draws(self, n: int, device: torch.device, gates: int, uniforms: int, normals: int, p: torch.Tensor):
        """All of one pass's random numbers in three calls: Bernoulli(p) gates (as floats), U[0,1), N(0,1)."""
        gate = (torch.rand(n, gates, device=device) < p).float()
        return gate.unbind(1), torch.rand(n, uniforms, device=device).unbind(1), torch.randn(n, normals,
                                                                                           device=device).unbind(1)

    def geometric(self, n: int, device: torch.device) -> torch.Tensor:
        """Per-sample 3x3 matrices from output to input pixel coordinates (origin at the centre)."""
        r, w, h = RANGES, self.width, self.height
        (g_flip, g_quarter, g_int, g_scale, g_aniso, g_frac), u, z = self._draws(n, device, 6, 6, 4, self.p)
        (g_rotate1, g_rotate2), _, _ = self._draws(n, device, 2, 0, 0, 1 - torch.sqrt((1 - self.p).clamp(min=0)))
        ones = torch.ones(n, device=device)
        matrix = _scale2d(1 - 2 * torch.floor(u[0] * 2) * g_flip, ones)
        matrix = matrix @ _rotate2d(-math.pi / 2 * torch.floor(u[1] * 4) * g_quarter)
        shift = r["xint_max"] * g_int
        matrix = matrix @ _translate2d(torch.round((u[2] * 2 - 1) * shift * w), torch.round((u[3] * 2 - 1) * shift * h))
        scale = torch.exp2(z[0] * r["scale_std"] * g_scale)
        matrix = matrix @ _scale2d(scale, scale)
        # Two rotations at 1 - sqrt(1 - p) each, so that some rotation happens with probability p.
        matrix = matrix @ _rotate2d(-(u[4] * 2 - 1) * math.pi * r["rotate_max"] * g_rotate1)
        aniso = torch.exp2(z[1] * r["aniso_std"] * g_aniso)
        matrix = matrix @ _scale2d(aniso, 1 / aniso)
        matrix = matrix @ _rotate2d(-(u[5] * 2 - 1) * math.pi * r["rotate_max"] * g_rotate2)
        frac = r["xfrac_std"] * g_frac
        return matrix @ _translate2d(z[2] * frac * w, z[3] * frac * h)

    def color(self, n: int, device: torch.device) -> torch.Tensor:
        """Per-sample 4x4 matrices on homogeneous RGB."""
        r, k = RANGES, self.constants(device)
        (g_bright, g_contrast, g_flip, g_hue, g_sat), u, z = self._draws(n, device, 5, 2, 3, self.p)
        brightness = (z[0] * r["brightness_std"] * g_bright)[:, None, None]
        matrix = k["eye"] + brightness * k["offset"]
        contrast = torch.exp2(z[1] * r["contrast_std"] * g_contrast)[:, None, None]
        matrix = (k["rgb"] * contrast + k["last"]) @ matrix
        flip = (torch.floor(u[0] * 2) * g_flip)[:, None, None]
        matrix = (k["eye"] - 2 * k["outer"] * flip) @ matrix
        theta = ((u[1] * 2 - 1) * math.pi * r["hue_max"] * g_hue)[:, None, None]
        # Rodrigues about the luma axis: cos I + sin [v]x + (1 - cos) v v^T on RGB; 1 on the homogeneous entry.
        hue = theta.cos() * k["rgb"] + theta.sin() * k["cross"] + (1 - theta.cos()) * k["outer"] + k["last"]
        matrix = hue @ matrix
        saturation = torch.exp2(z[2] * r["saturation_std"] * g_sat)[:, None, None]
        return (k["outer"] + (k["rgb"] - k["outer"]) * saturation + k["last"]) @ matrix

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n, device = images.shape[0], images.device
        geometric = self.geometric(n, device)
        # Pixel coordinates to affine_grid's normalised ones: S^-1 G S with S = diag(w/2, h/2, 1), elementwise.
        k = self.constants(device)
        normalised = geometric * k["half"][None, None, :] / k["half"][None, :, None]
        grid = functional.affine_grid(normalised[:, :2, :].to(images.dtype), list(images.shape), align_corners=False)
        moved = functional.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        # Samples whose transform is the identity keep their exact pixels (lerp with weight 0 returns its start).
        changed = ((geometric - k["eye3"]).abs().flatten(1).amax(1) > 0).to(images.dtype)
        images = torch.lerp(images, moved, changed[:, None, None, None])
        color = self.color(n, device).to(images.dtype)
        flat = images.flatten(2)
        if self.channels == 3:  # an identity matrix maps pixels to themselves exactly (1 * x + 0 * y)
            recoloured = torch.baddbmm(color[:, :3, 3:], color[:, :3, :3], flat)
        else:  # grey: the mean of the RGB rows acting on equal channels, as the reference code does
            rows = color[:, :3, :].mean(dim=1, keepdim=True)
            recoloured = flat * rows[:, :, :3].sum(dim=2, keepdim=True) + rows[:, :, 3:]
        return recoloured.view_as(images)

    def observe(self, real_logits, mean_over_processes, global_batch: int) -> None:
        self.sign_sum += mean_over_processes(torch.sign(real_logits).float().mean())
        self.observed += 1
        due = self.observed >= self.interval
        # r_t = E[sign(D(real))] over the interval; p moves by (images seen) / (speed_kimg * 1000) towards target.
        rate = torch.sign(self.sign_sum / self.observed.clamp(min=1) - self.target)
        step = rate * global_batch * self.interval / (self.speed_kimg * 1000)
        self.p.copy_(torch.where(due, (self.p + step).clamp(0, 1), self.p))
        self.sign_sum.copy_(torch.where(due, torch.zeros_like(self.sign_sum), self.sign_sum))
        self.observed.copy_(torch.where(due, torch.zeros_like(self.observed), self.observed))

    def log_values(self) -> dict[str, torch.Tensor]:
        return {"ada_p": self.p}


class AdaptiveAugmentation(Augmentation):
    """ADA (Karras, Aittala, Hellsten, Laine, Lehtinen & Aila 2020, "Training Generative Adversarial Networks
    with Limited Data"), the "bgc" pipeline of the reference code (github.com/NVlabs/stylegan2-ada-pytorch).

    Every transform is applied to each sample with probability ``p``: x-flip,
    90-degree rotations, integer translation (up to 1/8), isotropic scaling
    (lognormal, std 0.2 in log2), rotation (uniform, twice at ``1 - sqrt(1 -
    p)``), anisotropic scaling (0.2), fractional translation (std 1/8),
    through one bilinear resampling with reflection padding (the reference
    uses a wavelet filter); then brightness (std 0.2), contrast (0.5 in
    log2), luma flip, hue rotation and saturation (1 in log2) as one colour
    matrix. ``p`` starts at 0 and every ``interval`` (4) discriminator updates
    moves by ``sign(r_t - target) * images / (speed_kimg * 1000)``, with
    ``r_t = E[sign(D(real))]`` over those updates, target 0.6 and
    ``speed_kimg`` 500, as the paper. ``p`` is logged as ``ada_p``, held in
    checkpoints and, under torchrun, follows ``r_t`` over all processes.
    """

    name = "ada"
    description = "ADA: 18 transforms at an adaptive probability p tuned from sign(D(real)) (Karras et al. 2020)."
    options = {"target": 0.6, "interval": 4, "speed_kimg": 500.0}

    def build(self, spec: DataSpec, **options: Any) -> AugmentPipe:
        """The pipe at p = 0; GanzooError for data other than 1- or 3-channel images."""
        if not spec.is_image or spec.shape[0] not in (1, 3):
            raise ganzoo.GanzooError(f"--augment ada transforms grey or RGB images; this dataset's samples have "
                                     f"shape {spec.shape}")
        if int(options["interval"]) < 1 or not float(options["speed_kimg"]) > 0:
            raise ganzoo.GanzooError("--augment ada: interval and speed_kimg must be positive")
        return _AdaPipe(spec, float(options["target"]), int(options["interval"]), float(options["speed_kimg"]))


@ganzoo.hookimpl
def register_augmentations(register: Callable[[Augmentation], None]) -> None:
    """Register ``ada``."""
    register(AdaptiveAugmentation())
