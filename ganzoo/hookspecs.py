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

from ganzoo.contract import Architecture, Dataset, Loss
from ganzoo.metrics import Metric

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
        of ``ganzoo.contract.LOSS_DEFAULT_KEYS``; an unknown key makes the
        registration fail, naming the key.

    The return value is ignored. A loss owns everything that is specific to
    its objective: the link function on the logits, a gradient penalty
    (:meth:`~ganzoo.Loss.penalty`) and the training settings it needs
    (``n_critic``, learning rates, Adam betas, architecture options).
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
