"""``--spectral-norm``: spectral normalisation of any architecture's layers, and folding it for sampling.

Spectral normalisation (Miyato, Kataoka, Koyama & Yoshida 2018, "Spectral
Normalization for Generative Adversarial Networks", Algorithm 1) divides
each weight by an estimate of its largest singular value, refined by one
power iteration per training forward pass. It is applied here as a torch
parametrization, so any architecture gets it without knowing: the power
iteration vectors are buffers (in every checkpoint, so resume is exact), the
normalised weight is differentiable twice (gradient penalties work), and the
estimate is computed in float32 whatever the autocast precision.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import parametrize

from ganzoo.contract.components import SPECTRAL_NORM_CHOICES
from ganzoo.contract.layers import is_exempt_from_spectral_norm
from ganzoo.errors import GanzooError

#: The layers whose weights are normalised.
NORMALISED_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                     nn.ConvTranspose3d, nn.Embedding)
_EPS = 1e-12


class SpectralNormalization(nn.Module):
    """The parametrization ``W -> W / sigma(W)``, ``sigma`` from one power iteration per training pass.

    The weight is viewed as a matrix with its output dimension first (dim 1
    of a transposed convolution's weight, as in Miyato et al.'s code and
    torch's ``spectral_norm``). ``u`` and ``v`` start random and are refined
    by 15 iterations at creation, as torch's implementation does.
    """

    def __init__(self, weight: torch.Tensor, output_dim: int) -> None:
        super().__init__()
        self.output_dim = output_dim
        matrix = self._matrix(weight.detach().float())
        self.register_buffer("_u", nn.functional.normalize(matrix.new_empty(matrix.shape[0]).normal_(), dim=0, eps=_EPS))
        self.register_buffer("_v", nn.functional.normalize(matrix.new_empty(matrix.shape[1]).normal_(), dim=0, eps=_EPS))
        self._power_iteration(matrix, 15)

    def _matrix(self, weight: torch.Tensor) -> torch.Tensor:
        if self.output_dim != 0:
            weight = weight.movedim(self.output_dim, 0)
        return weight.flatten(1)

    @torch.no_grad()
    def _power_iteration(self, matrix: torch.Tensor, iterations: int) -> None:
        for _ in range(iterations):
            self._v.copy_(nn.functional.normalize(matrix.t() @ self._u, dim=0, eps=_EPS))
            self._u.copy_(nn.functional.normalize(matrix @ self._v, dim=0, eps=_EPS))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=weight.device.type, enabled=False):
            matrix = self._matrix(weight.float())
            if self.training:
                self._power_iteration(matrix.detach(), 1)
            # Clones keep the in-place updates above out of this pass's graph (twice-differentiable).
            u, v = self._u.clone(memory_format=torch.contiguous_format), self._v.clone(memory_format=torch.contiguous_format)
            sigma = torch.dot(u, matrix @ v)
            return (weight.float() / sigma).to(weight.dtype)


def apply_spectral_norm(network: nn.Module) -> int:
    """Normalise every linear, convolution and embedding weight of ``network`` (in place); returns how many.

    Layers inside a module marked with :func:`ganzoo.exempt_from_spectral_norm` are left as they are.
    """
    count = 0
    for module in normalisable_layers(network):
        if not parametrize.is_parametrized(module, "weight"):
            transposed = isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d))
            parametrize.register_parametrization(module, "weight",
                                                 SpectralNormalization(module.weight, 1 if transposed else 0))
            count += 1
    return count


def normalisable_layers(network: nn.Module) -> list[nn.Module]:
    """The linear, convolution and embedding layers of ``network`` that no exempt module holds."""
    exempt = {id(inner) for module in network.modules() if is_exempt_from_spectral_norm(module)
              for inner in module.modules()}
    return [module for module in network.modules() if isinstance(module, NORMALISED_LAYERS) and id(module) not in exempt]


def check_normalisable(networks: dict[str, nn.Module], arch: str) -> None:
    """GanzooError when a network spectral norm is asked for has no layer it could normalise.

    An architecture with its own layer classes (StyleGAN2's equalised-learning-rate convolutions) would
    otherwise train silently without the normalisation the user asked for.
    """
    for role, network in networks.items():
        if not normalisable_layers(network):
            raise GanzooError(f"--spectral-norm: the {role} of '{arch}' has no torch linear, convolution or embedding "
                              f"layer to normalise (it uses its own layer classes); choose another --spectral-norm")


def networks_to_normalise(choice: str) -> tuple[bool, bool]:
    """``(generator, discriminator)``: which networks ``--spectral-norm choice`` normalises."""
    assert choice in SPECTRAL_NORM_CHOICES, choice
    return choice in ("generator", "both"), choice in ("discriminator", "both")


def folded(network: nn.Module, build_plain: Callable[[], nn.Module]) -> nn.Module:
    """``network`` itself if it has no parametrizations, else a plain copy holding the normalised weights.

    The copy is what generator files hold and grids sample from, so ``ganzoo
    sample`` needs no knowledge of how the network was trained. It is
    ``build_plain()`` (the same architecture without parametrizations), built
    on the meta device, so no initialisation draws from the RNG that training
    uses, then filled with the weights ``network`` computes in eval mode (no
    power iteration). Copying and un-parametrizing ``network`` instead would
    break it: parametrized modules share a class that removal edits.
    """
    if not any(parametrize.is_parametrized(module) for module in network.modules()):
        return network
    device = next(network.parameters()).device
    training = network.training
    network.eval()
    try:
        with torch.no_grad():
            state = _plain_state(network)
    finally:
        network.train(training)
    with torch.device("meta"):
        plain = build_plain()
    plain = plain.to_empty(device=device)
    plain.load_state_dict(state)
    return plain.eval()


def _plain_state(network: nn.Module) -> dict[str, torch.Tensor]:
    """``network``'s state dict with every parametrized tensor as its computed value under its plain name."""
    state = {}
    for key, value in network.state_dict().items():
        prefix, marker, rest = key.rpartition("parametrizations.")
        if not marker:
            state[key] = value
            continue
        name, _, tail = rest.partition(".")
        if tail == "original":  # the estimate's vectors (name.0._u, ...) have no plain counterpart
            module = network.get_submodule(prefix[:-1]) if prefix else network
            state[prefix + name] = getattr(module, name).detach().clone()
    return state
