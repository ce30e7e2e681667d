"""Shared building blocks of the convolutional architectures.

- :mod:`.residual`: the SNGAN ResNet blocks (generator block with optional
  conditional batch norm, discriminator block, optimized first block).
- :mod:`.attention`: SAGAN's self-attention block.
"""
