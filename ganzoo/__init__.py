"""ganzoo: a plugin-based GAN zoo.

The public plugin API is what this module exports: the ``hookimpl`` marker
and the component classes. See ``docs/plugins.md``.
"""

from ganzoo.callbacks import Logger, RunContext, RunLogger
from ganzoo.contract import Architecture, DataSpec, Dataset, Loss
from ganzoo.errors import GanzooError
from ganzoo.hookspecs import hookimpl
from ganzoo.metrics import EvalContext, Metric, MetricResult, SampleSource
from ganzoo.sources import GeneratorSamples, TensorSamples
from ganzoo.tensordata import InMemoryDataset

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "DataSpec",
    "Dataset",
    "GanzooError",
    "GeneratorSamples",
    "InMemoryDataset",
    "EvalContext",
    "Logger",
    "Loss",
    "Metric",
    "MetricResult",
    "RunContext",
    "RunLogger",
    "SampleSource",
    "TensorSamples",
    "__version__",
    "hookimpl",
]
