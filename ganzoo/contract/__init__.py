"""The contract: what plugins implement and what the engine promises them.

The component classes (``components``), the hook specifications (``hookspecs``),
the metric contract (``metrics``), the regularizer, augmentation and recipe contracts (``regularizers``, ``augmentations``, ``recipes``), the layer marks (``layers``), the lifecycle and logger contract
(``callbacks``) and the ``InMemoryDataset`` helper (``tensordata``). This is the
bottom layer: it imports nothing from ganzoo. Everything third-party authors
code against is re-exported from :mod:`ganzoo`; the names below stay importable
from ``ganzoo.contract`` as docs/plugins.md documents (``LOSS_DEFAULT_KEYS``, ``ARCHITECTURE_DEFAULT_KEYS``).
"""

from ganzoo.contract.augmentations import AugmentPipe, Augmentation
from ganzoo.contract.callbacks import Logger, RunContext, RunLogger
from ganzoo.contract.components import (ARCHITECTURE_DEFAULT_KEYS, LOSS_DEFAULT_KEYS, SPECTRAL_NORM_CHOICES, Architecture,
                                        DataSpec, Dataset, Loss)
from ganzoo.contract.hookspecs import hookimpl, hookspec
from ganzoo.contract.latents import AuxiliaryTarget, LatentCode, codes_from_noise, noise_with_codes
from ganzoo.contract.layers import exempt_from_spectral_norm
from ganzoo.contract.metrics import INCEPTION_WEIGHTS_ENV, EvalContext, Metric, MetricResult, SampleSource
from ganzoo.contract.recipes import Recipe
from ganzoo.contract.regularizers import (COMMON_REGULARIZER_OPTIONS, REGULARIZER_NETWORKS, CriticBatch, GeneratorBatch,
                                          Regularizer, input_gradients, squared_gradient_norms)
from ganzoo.contract.tensordata import InMemoryDataset

__all__ = [
    "ARCHITECTURE_DEFAULT_KEYS", "COMMON_REGULARIZER_OPTIONS", "INCEPTION_WEIGHTS_ENV", "LOSS_DEFAULT_KEYS",
    "REGULARIZER_NETWORKS", "SPECTRAL_NORM_CHOICES", "Architecture", "AugmentPipe", "Augmentation",
    "AuxiliaryTarget", "CriticBatch", "DataSpec", "Dataset", "EvalContext", "GeneratorBatch", "InMemoryDataset",
    "LatentCode", "Logger", "Loss", "Metric", "MetricResult", "Recipe", "Regularizer", "RunContext", "RunLogger",
    "SampleSource", "codes_from_noise", "exempt_from_spectral_norm", "hookimpl", "hookspec", "input_gradients",
    "noise_with_codes", "squared_gradient_norms",
]
