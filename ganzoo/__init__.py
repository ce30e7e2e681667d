"""ganzoo: a plugin-based GAN zoo.

The public plugin API is what this module exports, and only that: the
``hookimpl`` marker, the component and metric classes, and a few helpers that
plugins need (atomic writes, the cache location, did-you-mean errors, the
classifier trainer behind the ``classifier``, ``cas`` and ``augment``
evaluations). Built-in plugins import nothing else from ganzoo, exactly like a
third-party package; ``docs/plugins.md`` documents every name below.
Notebooks and scripts use the Python API (``train``, ``load_generator``,
``evaluate``, ``list_plugins``, ``list_recipes``), documented in
``docs/python-api.md``.
"""

from ganzoo.contract import (
    ARCHITECTURE_DEFAULT_KEYS,
    COMMON_REGULARIZER_OPTIONS,
    INCEPTION_WEIGHTS_ENV,
    LOSS_DEFAULT_KEYS,
    Architecture,
    AugmentPipe,
    AuxiliaryTarget,
    Augmentation,
    CriticBatch,
    DataSpec,
    Dataset,
    EvalContext,
    GeneratorBatch,
    InMemoryDataset,
    LatentCode,
    Logger,
    Loss,
    Metric,
    MetricResult,
    Recipe,
    Regularizer,
    RunContext,
    RunLogger,
    SampleSource,
    codes_from_noise,
    exempt_from_spectral_norm,
    hookimpl,
    input_gradients,
    noise_with_codes,
    squared_gradient_norms,
)
from ganzoo.api import evaluate, list_plugins, list_recipes, load_generator, train
from ganzoo.compute.precision import resolve_precision
from ganzoo.contract.progress import progress_task, track
from ganzoo.errors import GanzooError, unknown_choice
from ganzoo.evaluation.classifier_nets import CLASSIFIERS, SmallCNN, check_classifiable, make_classifier
from ganzoo.evaluation.classify import (
    TrainingBudget,
    class_correct_counts,
    classifier_accuracy,
    labelled_batches,
    train_classifier,
)
from ganzoo.evaluation.sources import GeneratorSamples, TensorSamples
from ganzoo.storage.atomic import atomic_path, write_text_atomic
from ganzoo.storage.paths import cache_root
from ganzoo.version import __version__

__all__ = [
    # the contract
    "Architecture",
    "AugmentPipe",
    "Augmentation",
    "AuxiliaryTarget",
    "COMMON_REGULARIZER_OPTIONS",
    "CriticBatch",
    "DataSpec",
    "Dataset",
    "EvalContext",
    "GeneratorBatch",
    "GanzooError",
    "InMemoryDataset",
    "LatentCode",
    "LOSS_DEFAULT_KEYS",
    "ARCHITECTURE_DEFAULT_KEYS",
    "Logger",
    "Loss",
    "Metric",
    "MetricResult",
    "Recipe",
    "Regularizer",
    "RunContext",
    "RunLogger",
    "SampleSource",
    "hookimpl",
    "exempt_from_spectral_norm",
    "codes_from_noise",
    "noise_with_codes",
    # the Python API (docs/python-api.md)
    "evaluate",
    "list_plugins",
    "list_recipes",
    "load_generator",
    "train",
    # sample sources
    "GeneratorSamples",
    "TensorSamples",
    # helpers for plugins
    "CLASSIFIERS",
    "INCEPTION_WEIGHTS_ENV",
    "SmallCNN",
    "TrainingBudget",
    "atomic_path",
    "cache_root",
    "input_gradients",
    "squared_gradient_norms",
    "check_classifiable",
    "class_correct_counts",
    "classifier_accuracy",
    "labelled_batches",
    "make_classifier",
    "progress_task",
    "track",
    "resolve_precision",
    "train_classifier",
    "unknown_choice",
    "write_text_atomic",
    "__version__",
]
