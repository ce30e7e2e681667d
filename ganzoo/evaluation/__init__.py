"""Turning a generator into numbers and pictures.

Running metrics and recording them with their protocol (``evaluate``), sample
sources for metrics (``sources``), batched generation, grids and files
(``sampling``), the core classifiers and their fixed-budget trainer
(``classifier_nets``, ``classify``) the ``ganzoo augment`` study
(``augment``), latent walks and truncation (``interpolation``, ``truncation``),
the animation of a run's grids (``animation``) and the nearest-neighbour
memorisation check (``nearest``, ``nearest_output``). May import storage, the registry, compute and the contract;
never training, distributed, bench or the CLI.
"""
