"""The plugin hooks: the whole contract between ganzoo and its plugins.

A plugin is a module (or any object) with functions decorated by
``@ganzoo.hookimpl`` whose names are hooks below. Packages expose the module
through the ``ganzoo`` entry-point group::

    [project.entry-points.ganzoo]
    myplugin = "my_pkg.plugin"

ganzoo's own built-in plugins are registered the same way, from ganzoo's
pyproject. A hook implementation may accept any subset of a hook's arguments,
by name. A function whose name is not a hook here is rejected when the
plugin loads (``ganzoo list-plugins`` shows the error), so a typo cannot
silently disable a plugin.

Lifecycle hooks (``on_run_start`` ... ``on_run_end``) are called by every
training run, in the order of their names below, for every plugin that
implements them; they are how loggers, plots and sweeps follow a run. They
run in the training process, so they must be quick and must not change the
networks; their return values are ignored. If one raises, the run writes a
checkpoint of the current step and stops with one error line naming the
plugin and its distribution.

Registration hooks are called once per command, in plugin load order, each
with a ``register`` callback. Every component must have a name that no other
installed plugin uses for the same kind of component: ``--loss bce`` means
exactly one thing. A duplicate is reported against the plugin that registered
it second, and using the name is an error until one plugin is removed or
``GANZOO_PLUGINS`` pins which plugins load.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from ganzoo.contract.augmentations import Augmentation
from ganzoo.contract.callbacks import Logger, RunContext
from ganzoo.contract.components import Architecture, Dataset, Loss
from ganzoo.contract.metrics import Metric
from ganzoo.contract.recipes import Recipe
from ganzoo.contract.regularizers import Regularizer

hookspec = pluggy.HookspecMarker("ganzoo")
hookimpl = pluggy.HookimplMarker("ganzoo")


@hookspec
def register_architectures(register: Callable[[Architecture], None]) -> None:
    """Register generator/discriminator architectures.

    Called once when ganzoo loads its plugins, before any command runs.

    :param register: call it once per architecture with an instance of a
        :class:`ganzoo.Architecture` subclass. Raises ``GanzooError`` if the
        object is not an ``Architecture`` or its name is not kebab-case; the
        plugin is then listed with that error and none of its components load.

    The return value is ignored. Architectures are stateless factories:
    :meth:`~ganzoo.Architecture.build` is called once per run to create new
    networks, so one instance serves every run.
    """


@hookspec
def register_losses(register: Callable[[Loss], None]) -> None:
    """Register adversarial losses.

    Called once when ganzoo loads its plugins, before any command runs.

    :param register: call it once per loss with an instance of a
        :class:`ganzoo.Loss` subclass. Its ``defaults`` may only use the keys
        of ``ganzoo.contract.components.LOSS_DEFAULT_KEYS``; an unknown key makes the
        registration fail, naming the key.

    The return value is ignored. A loss owns everything that is specific to
    its objective: the link function on the logits, a gradient penalty
    (:meth:`~ganzoo.Loss.penalty`), a constraint on the critic's weights
    (:meth:`~ganzoo.Loss.after_discriminator_step`) and the training settings
    it needs (``n_critic``, learning rates, optimizer and Adam betas,
    architecture options).
    """


@hookspec
def register_regularizers(register: Callable[[Regularizer], None]) -> None:
    """Register regularizers: penalties on the discriminator that compose with any architecture and loss.

    Called once when ganzoo loads its plugins, before any command runs.

    :param register: call it once per regularizer with an instance of a
        :class:`ganzoo.Regularizer` subclass. Registration fails, naming the
        problem, when its ``options`` use ``weight`` or ``every`` (which every
        regularizer takes) or its ``weight`` is not a number.

    The return value is ignored. Users choose regularizers with ``ganzoo run
    --reg NAME[:KEY=VALUE,...]`` (repeatable; several apply together); a loss
    may name default ones in ``Loss.defaults["regularizers"]``, which ``--reg``
    replaces and ``--reg none`` drops. :meth:`~ganzoo.Regularizer.build` is
    called once per run; the module it returns is called inside every
    discriminator update the regularizer applies to (every update, or every
    ``every``-th), with a :class:`ganzoo.CriticBatch`, and its weighted
    result is added to the discriminator's loss and reported, with any
    ``Loss.penalty``, as the step's ``penalty``.
    """


@hookspec
def register_augmentations(register: Callable[[Augmentation], None]) -> None:
    """Register augmentations of the discriminator's inputs (DiffAugment, ADA, x-flips).

    Called once when ganzoo loads its plugins, before any command runs.

    :param register: call it once per augmentation with an instance of a
        :class:`ganzoo.Augmentation` subclass.

    The return value is ignored. Users choose augmentations with ``ganzoo run
    --augment NAME[:KEY=VALUE,...]`` (repeatable; applied in the order
    given). :meth:`~ganzoo.Augmentation.build` is called once per run; the
    :class:`ganzoo.AugmentPipe` it returns transforms every batch D sees
    (real and fake, in both networks' updates and inside regularizers), or
    only the real batch for a ``real_only`` augmentation. After each
    discriminator update the engine calls its ``observe`` with D's logits on
    the real batch (ADA adjusts its probability there); its buffers are
    checkpointed and its ``log_values`` are added to the log records.
    """


@hookspec
def register_datasets(register: Callable[[Dataset], None]) -> None:
    """Register datasets.

    Called once when ganzoo loads its plugins, before any command runs.

    :param register: call it once per dataset with an instance of a
        :class:`ganzoo.Dataset` subclass.

    The return value is ignored. Registering must be cheap: do not touch the
    disk or the network here; :meth:`~ganzoo.Dataset.load` is where data is
    read, and only for the dataset a command actually uses.
    """


@hookspec
def register_metrics(register: Callable[[Metric], None]) -> None:
    """Register evaluation metrics.

    Called once when ganzoo loads its plugins, before any command runs.

    :param register: call it once per metric with an instance of a
        :class:`ganzoo.Metric` subclass.

    The return value is ignored. ``ganzoo eval --metrics a,b`` and
    ``ganzoo run --eval-every N --metrics a,b`` call each metric's
    :meth:`~ganzoo.Metric.check` before generating anything, then
    :meth:`~ganzoo.Metric.compute` with a :class:`ganzoo.SampleSource` and a
    :class:`ganzoo.EvalContext`. Registering must be cheap: load feature
    extractors and train evaluators inside ``compute`` (and cache them under
    ``context.cache_dir``), never at registration.
    """


@hookspec
def register_loggers(register: Callable[[Logger], None]) -> None:
    """Register opt-in logging backends.

    Called once when ganzoo loads its plugins, before any command runs.

    :param register: call it once per backend with an instance of a
        :class:`ganzoo.Logger` subclass.

    The return value is ignored. A logger is used only by runs that name it
    with ``ganzoo run --log NAME``: ganzoo calls its ``check()`` before the
    run directory exists and ``open(run)`` when training starts, then feeds
    the returned :class:`ganzoo.RunLogger` losses, throughput, evaluation
    results and sample grids, and closes it when the run stops. Import the
    backend's package inside ``check``/``open``, not at module level, so that
    a missing optional dependency only matters to runs that ask for it.
    """


@hookspec
def register_recipes(register: Callable[[Recipe], None]) -> None:
    """Register recipes: named, versioned configurations that reproduce published setups.

    Called once when ganzoo loads its plugins, before any command runs.

    :param register: call it once per recipe with a :class:`ganzoo.Recipe`.

    The return value is ignored. ``ganzoo recipes`` lists them (paper,
    published figure and protocol, ganzoo's measured figure) and ``ganzoo
    recipes NAME`` prints one's settings. ``ganzoo run --recipe NAME`` trains
    with the recipe's settings, overridden by any option given on the command
    line; config.json records the recipe's name, version and the values it
    set. A recipe may name components of other plugins; a setting that is
    not a ``ganzoo run`` option is an error naming it when the recipe is
    used. Registering must be cheap: a recipe is data.
    """


@hookspec(firstresult=True)
def default_run() -> dict | None:
    """The run ``ganzoo run`` trains when it is given none of ``--arch``, ``--loss`` and ``--data``.

    Return a mapping of ``ganzoo run`` option names (Python spelling, e.g.
    ``{"arch": "dcgan", "loss": "bce", "data": "mnist-mini", "steps": 1000}``)
    that must include ``arch``, ``loss`` and ``data``; options the user gives
    on the command line override it. Return ``None`` to offer no default.

    The first non-``None`` answer wins; ganzoo's built-in answer is marked
    ``trylast``, so any installed package that answers replaces it. Answering
    must be cheap (no disk or network). A key that is not a ``ganzoo run``
    option is an error naming it.
    """


@hookspec
def on_run_start(run: RunContext) -> None:
    """A run is about to train its first step (or its first step after a resume).

    :param run: the :class:`ganzoo.RunContext`: run directory, the
        ``config.json`` content, spec, ``start_step`` and ``total_steps``, the
        networks and the device. The same object is passed to every later
        lifecycle hook of this run.

    Called after the run directory and ``config.json`` exist and the networks
    (and, on resume, their checkpoint) are loaded.
    """


@hookspec
def on_step_end(run: RunContext, step: int, record: dict | None) -> None:
    """A training step has finished.

    :param run: the run's :class:`ganzoo.RunContext`.
    :param step: the number of generator steps done so far (1 after the first).
    :param record: on logging steps (every ``--log-every`` steps and the
        last), the record just appended to ``metrics.jsonl``: ``step``,
        ``d_loss``, ``g_loss``, ``penalty`` (means over the window),
        ``img_per_s`` and ``time``; ``None`` on other steps, where reading
        losses would make the device wait.

    Called every step, so keep it cheap.
    """


@hookspec
def on_eval(run: RunContext, step: int, results: dict, best: bool) -> None:
    """An evaluation during training has finished (``--metrics``).

    :param run: the run's :class:`ganzoo.RunContext`.
    :param step: the step that was evaluated.
    :param results: metric name -> ``{value name: float}``.
    :param best: whether this evaluation produced a new best checkpoint.
    """


@hookspec
def on_checkpoint(run: RunContext, step: int, path: str) -> None:
    """A resumable checkpoint was written.

    :param run: the run's :class:`ganzoo.RunContext`.
    :param step: the step it holds.
    :param path: the training-state file (``checkpoints/state.safetensors``);
        the generator file beside it was written at the same step.
    """


@hookspec
def on_run_end(run: RunContext, step: int, interrupted: bool) -> None:
    """A run has stopped: finished, or interrupted by Ctrl-C / SIGTERM after checkpointing.

    :param run: the run's :class:`ganzoo.RunContext`.
    :param step: the last step done.
    :param interrupted: True when the run stopped before ``total_steps``.

    Not called when training raised an exception or diverged (``--on-nan``).
    """
