"""ganzoo: a plugin-based GAN zoo.

The public plugin API is what this module exports: the ``hookimpl`` marker
and the component classes. See ``docs/plugins.md``.
"""

from ganzoo.contract.callbacks import Logger, RunContext, RunLogger
from ganzoo.contract.components import Architecture, DataSpec, Dataset, Loss
from ganzoo.errors import GanzooError
from ganzoo.contract.hookspecs import hookimpl
from ganzoo.contract.metrics import EvalContext, Metric, MetricResult, SampleSource
from ganzoo.evaluation.sources import GeneratorSamples, TensorSamples
from ganzoo.contract.tensordata import InMemoryDataset

from ganzoo.version import __version__

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
