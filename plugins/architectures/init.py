"""Weight initialisation shared by the convolutional architectures."""

from __future__ import annotations

from torch import nn

#: Standard deviation of the DCGAN initialisation (Radford et al. 2015, section 4).
DCGAN_INIT_STD = 0.02


def dcgan_init_(module: nn.Module) -> None:
    """Initialise one layer as in the DCGAN paper; use it with ``net.apply``.

    Convolution weights are drawn from N(0, 0.02) and BatchNorm scales from
    N(1, 0.02); biases are zeroed. Other layers keep PyTorch's defaults.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, DCGAN_INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d) and module.affine:
        nn.init.normal_(module.weight, 1.0, DCGAN_INIT_STD)
        nn.init.zeros_(module.bias)
