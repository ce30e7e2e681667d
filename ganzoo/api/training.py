"""``ganzoo.train``: a training run from Python with the options of ``ganzoo run``; the CLI calls the same code."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganzoo.contract.progress import TaskDisplay, current_display, showing_progress
from ganzoo.distributed.launch import launch_from_environment
from ganzoo.errors import GanzooError
from ganzoo.registry import Registry, load_registry
from ganzoo.registry.options import parse_assignments
from ganzoo.storage.config import RunConfig
from ganzoo.storage.recipes import config_from_recipe
from ganzoo.storage.rundir import rerun_config
from ganzoo.training.regularization import NO_REGULARIZER
from ganzoo.training.reporting import Reporter, RunOutcome, SilentReporter
from ganzoo.training.runner import continues_after_restart, resume_run, start_run
from ganzoo.version import __version__

#: Options that hold lists: a string is split at commas (``metrics="fid,classifier"``).
_LIST_OPTIONS = ("metrics", "log")
#: Options that hold ``KEY=VALUE`` maps: a list of ``"KEY=VALUE"`` strings is parsed as on the command line.
_MAP_OPTIONS = ("arch_options", "data_options")
#: Options that hold component specs (``"r1:gamma=10"``): a single string is one spec.
_SPEC_OPTIONS = ("regularizers", "augmentations")


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        run_dir: the run directory (config.json, metrics.jsonl, samples/, checkpoints/).
        step: the step training reached.
        total_steps: the step it was to reach.
        interrupted: whether a signal (Ctrl-C, SIGTERM, a notebook's interrupt) stopped it early;
            the checkpoint is saved and ``train(resume=run_dir)`` continues it.
        metrics: the records of metrics.jsonl this session wrote ({"step", "d_loss", "g_loss", "img_per_s", ...}).
        evaluations: the evaluation records of this session ({"step", "eval": {metric: {value: number}}, "best"}).
    """

    run_dir: Path
    step: int
    total_steps: int
    interrupted: bool
    metrics: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last(self) -> dict[str, Any] | None:
        """The last metrics record (final losses and img/s), if any was logged."""
        return self.metrics[-1] if self.metrics else None

    def load_generator(self, device: str | torch.device = "cpu") -> Any:
        """The run's generator (see :func:`ganzoo.load_generator`)."""
        from ganzoo.api.generators import load_generator

        return load_generator(self.run_dir, device=device)


def train(arch: str | None = None, loss: str | None = None, data: str | None = None, *, recipe: str | None = None,
          out: str | os.PathLike[str] | None = None, resume: str | os.PathLike[str] | None = None,
          config: str | os.PathLike[str] | None = None, progress: bool | Reporter = True,
          registry: Registry | None = None, notes: Callable[[str], None] | None = None, **options: Any) -> TrainResult:
    """Train a GAN with the options of ``ganzoo run``, by their Python names.

    ``train("dcgan", "bce", "cifar10", steps=2000, ema=0.999, reg="r1:gamma=0.1")`` is
    ``ganzoo run --arch dcgan --loss bce --data cifar10 --steps 2000 --ema 0.999 --reg r1:gamma=0.1``.
    Options are the fields of the run configuration (``steps``, ``batch_size``, ``lr_g``,
    ``betas=(0.5, 0.999)``, ``arch_options={"base_width": 64}``, ``metrics=["classifier"]``, ...);
    ``reg``/``augment``/``arch_option``/``data_option`` are accepted as the CLI spells them.
    With none of arch/loss/data/recipe/resume/config, the plugins' default run trains, as ``ganzoo run`` does.

    Args:
        recipe: start from a published setup (``ganzoo.list_recipes()``); options override its settings.
        out: the run directory (default ``runs/<time>-<arch>-<loss>-<data>``).
        resume: continue this run directory; ``steps`` is its new total.
        config: rerun a recorded run (``RUN`` or ``RUN/config.json``); options override it.
        progress: True shows the progress display (a bar on a terminal or notebook, lines otherwise),
            False shows nothing, or pass your own reporter (``start``, ``log``, ``finish`` methods).
        registry: the plugins to use (default: the installed ones).
        notes: where to send one-line notes (default: ignored).

    Raises:
        GanzooError: a bad option (the message names it and the valid choices), missing data, a diverged run.
    """
    registry = registry or load_registry()
    given = normalised_options(options)
    for name, value in (("arch", arch), ("loss", loss), ("data", data)):
        if value is not None:
            given[name] = value
    reporter = _reporter(progress)
    note = notes or (lambda text: None)
    with showing_progress(reporter if isinstance(reporter, TaskDisplay) else current_display()):
        outcome = run(given, registry, reporter, recipe=recipe, out=out, resume=resume, config=config, note=note)
    return result_of(outcome)


def run(given: dict[str, Any], registry: Registry, reporter: Reporter, *, recipe: str | None, out: Any,
        resume: Any, config: Any, note: Callable[[str], None]) -> RunOutcome:
    """Start, resume or rerun a run from ``given`` options (the CLI's ``ganzoo run`` and :func:`train`)."""
    main_process = launch_from_environment().is_main
    if recipe is not None and (resume or config):
        raise GanzooError("--recipe cannot be combined with --resume or --config (the recorded run holds its values)")
    if resume:
        if out:
            raise GanzooError("--out cannot be combined with --resume (the run directory is the one resumed)")
        if config:
            raise GanzooError("--config cannot be combined with --resume (a resumed run keeps its own config)")
        return resume_run(resume, given, registry, reporter)
    if config:
        run_config, saved = rerun_config(config, given)
        for text in version_differences(saved, run_config, registry):
            note(text)
        return start_run(run_config, registry, out, reporter)
    if recipe is not None:
        run_config = config_from_recipe(registry.recipe(recipe), given)
    else:
        run_config = RunConfig.from_json(_with_arch_loss_and_data(given, registry, note), source="the options given")
    if continues_after_restart(run_config, out):
        if main_process:
            note(f"torchrun restarted the workers; continuing {out} from its last checkpoint")
        return resume_run(out, {}, registry, reporter)
    return start_run(run_config, registry, out, reporter)


def normalised_options(options: dict[str, Any]) -> dict[str, Any]:
    """Python-side options as :class:`RunConfig` values: CLI spellings mapped, strings split, unknown names refused."""
    aliases = {"reg": "regularizers", "augment": "augmentations", "arch_option": "arch_options",
               "data_option": "data_options"}
    known = {f.name for f in dataclasses.fields(RunConfig)} - {"arch", "loss", "data", "recipe"}
    given: dict[str, Any] = {}
    for name, value in options.items():
        name = aliases.get(name, name)
        if name not in known:
            raise GanzooError(f"unknown option '{name}'. Valid options: {', '.join(sorted(known | set(aliases)))}")
        if value is None:
            continue
        if name in _LIST_OPTIONS and isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        elif name in _SPEC_OPTIONS:
            value = [value] if isinstance(value, str) else list(value)
            if name == "regularizers":
                value = regularizer_specs(value)
        elif name in _MAP_OPTIONS and not isinstance(value, dict):
            value = parse_assignments([value] if isinstance(value, str) else list(value),
                                      "--" + name[:-1].replace("_", "-"))
        elif name == "betas" and isinstance(value, str):
            value = parse_betas(value)
        given[name] = tuple(value) if name == "betas" else value
    return given


def result_of(outcome: RunOutcome) -> TrainResult:
    """A :class:`TrainResult` from the runner's outcome."""
    return TrainResult(run_dir=Path(outcome.run_dir), step=outcome.step, total_steps=outcome.total_steps,
                       interrupted=outcome.interrupted,
                       metrics=[record for record in outcome.records if "eval" not in record],
                       evaluations=[record for record in outcome.records if "eval" in record])


def _reporter(progress: bool | Reporter) -> Reporter:
    if progress is True:
        from ganzoo.api.progress import ProgressDisplay

        return ProgressDisplay()
    if progress is False or progress is None:
        return SilentReporter()
    return progress


def _with_arch_loss_and_data(given: dict[str, Any], registry: Registry, note: Callable[[str], None]) -> dict[str, Any]:
    """``given``, or the default run under it when it names none of --arch/--loss/--data; an error if half given."""
    if not any(name in given for name in ("arch", "loss", "data")):
        given = _with_default_run(given, registry, note)
    missing = [f"--{name}" for name in ("arch", "loss", "data") if name not in given]
    if missing:
        raise GanzooError(f"missing {', '.join(missing)} (or --recipe NAME, or --resume RUN_DIR); see ganzoo "
                          "list-plugins and ganzoo recipes for the choices")
    return given


def _with_default_run(given: dict[str, Any], registry: Registry, note: Callable[[str], None]) -> dict[str, Any]:
    """The plugins' default run (hook ``default_run``) under the options the user gave."""
    default = registry.hook.default_run()
    if not default:
        return given
    known = {field.name for field in dataclasses.fields(RunConfig)}
    unknown = sorted(set(default) - known)
    if unknown:
        raise GanzooError(f"the default_run hook gave unknown run option(s) {', '.join(map(repr, unknown))}; "
                          f"valid options: {', '.join(sorted(known))}")
    note("no --arch/--loss/--data given; training the default run: "
         + " ".join(f"--{name.replace('_', '-')} {value}" for name, value in default.items()))
    return {**default, **given}


def version_differences(saved: dict[str, Any], config: RunConfig, registry: Registry) -> list[str]:
    """What differs from the versions a recorded run used (results may differ with them)."""
    notes = []
    recorded = saved.get("versions", {})
    for name, now in (("ganzoo", __version__), ("torch", torch.__version__)):
        if recorded.get(name) and recorded[name] != now:
            notes.append(f"the recorded run used {name} {recorded[name]}, this is {now}; results may differ")
    for kind, name in (("architectures", config.arch), ("losses", config.loss), ("datasets", config.data)):
        then = saved.get("plugins", {}).get(kind, {})
        if then.get("name") != name or name not in registry.names(kind):
            continue
        plugin = registry.plugin_of(kind, name)
        if (then.get("distribution"), then.get("version")) != (plugin.distribution, plugin.version):
            notes.append(f"'{name}' came from {then.get('distribution')} {then.get('version')}, now from "
                         f"{plugin.distribution} {plugin.version}; results may differ")
    return notes


def regularizer_specs(specs: list[str]) -> list[str]:
    """``--reg`` values as recorded: ``none`` alone means an empty list (not even the loss's defaults)."""
    specs = [spec.strip() for spec in specs]
    if NO_REGULARIZER in specs:
        if len(specs) > 1:
            raise GanzooError(f"--reg {NO_REGULARIZER} cannot be combined with other --reg values")
        return []
    return specs


def parse_betas(text: str) -> tuple[float, float]:
    """``"0.5,0.999"`` as a pair, checked to lie in [0, 1)."""
    try:
        first, second = (float(part) for part in text.split(","))
    except ValueError:
        raise GanzooError(f"--betas expects two numbers like 0.5,0.999, got '{text}'") from None
    if not (0 <= first < 1 and 0 <= second < 1):
        raise GanzooError(f"--betas must lie in [0, 1), got '{text}'")
    return first, second

