"""Starting, resuming and rerunning a training run: the checks, the run directory, then a session.

The loop and its housekeeping live in :mod:`ganzoo.training.session`, the step
itself in :mod:`ganzoo.training.trainer`; what a run writes besides metrics in
:mod:`ganzoo.training.outputs`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ganzoo.distributed.launch import RESTART_COUNT_ENV, joined
from ganzoo.errors import GanzooError
from ganzoo.registry import Registry
from ganzoo.storage.checkpoint import read_checkpoint
from ganzoo.storage.config import RunConfig
from ganzoo.storage.paths import default_run_dir
from ganzoo.storage.preflight import check_output
from ganzoo.storage.rundir import RunDir
from ganzoo.training.assembly import Assembly, assemble
from ganzoo.training.recovery import STATE_KIND
from ganzoo.training.reporting import Reporter, RunOutcome, SilentReporter
from ganzoo.training.session import TrainingSession

__all__ = ["RESUMABLE_OPTIONS", "Reporter", "RunOutcome", "SilentReporter", "continues_after_restart", "resume_run",
           "start_run"]

#: Options that may change when a run is resumed; the others define the run.
RESUMABLE_OPTIONS = frozenset({
    "steps", "epochs", "device", "data_root", "download", "sample_every", "checkpoint_every", "log_every", "workers",
    "inception_weights", "max_minutes", "log", "compile", "preload", "threads", "on_nan",
})


def start_run(config: RunConfig, registry: Registry, out: str | Path | None = None, reporter: Reporter | None = None) -> RunOutcome:
    """Check everything, create the run directory and train from scratch.

    Under torchrun every process calls this; rank 0 creates the run directory.
    """
    with joined(config.device) as world:
        run_dir = RunDir(out or world.from_main(lambda: default_run_dir(config.arch, config.loss, config.data)))

        def prepare() -> Assembly:
            if world.is_main:
                check_output(run_dir.path, 0)  # an impossible --out fails before the data is loaded
                run_dir.ensure_new()
            assembly = assemble(config, registry, world)
            if world.is_main:
                check_output(run_dir.path, assembly.parameter_count)
                run_dir.create()
                run_dir.write_config(assembly.describe())
            return assembly

        return _train(world.main_first(prepare), run_dir, None, reporter or SilentReporter())


def continues_after_restart(config: RunConfig, out: str | Path | None) -> bool:
    """Whether this is a worker torchrun restarted (``--max-restarts``) whose run, the same as ``config``,
    already has a checkpoint in ``out``: then the same command continues it, as torchrun expects of scripts.

    The options that define a run must match the recorded ones; precision is left out, since a resumed
    run records the precision ``auto`` chose.
    """
    try:
        restarted = int(os.environ.get(RESTART_COUNT_ENV, "0")) > 0
    except ValueError:
        restarted = False
    run_dir = RunDir(out) if out is not None else None
    if not restarted or run_dir is None or not run_dir.state_path.is_file():
        return False
    recorded = run_dir.read_config().get("config", {})
    wanted = json.loads(json.dumps(config.to_json()))
    defining = set(wanted) - RESUMABLE_OPTIONS - {"precision"}
    return all(recorded.get(key) == wanted[key] for key in defining)


def resume_run(path: str | Path, overrides: dict[str, Any], registry: Registry, reporter: Reporter | None = None) -> RunOutcome:
    """Continue the run in ``path`` from its last checkpoint (from step 0 if it stopped before its first).

    ``overrides`` may only hold :data:`RESUMABLE_OPTIONS`; ``steps`` (or
    ``epochs``) is the run's new total, not a number of extra steps. Without
    ``threads`` the run keeps the CPU thread count its checkpoint recorded, since
    the count changes the arithmetic and so the losses.
    """
    fixed = sorted(set(overrides) - RESUMABLE_OPTIONS)
    if fixed:
        names = ", ".join("--" + name.replace("_", "-") for name in fixed)
        raise GanzooError(f"cannot change {names} when resuming; options that may change: "
                          + ", ".join("--" + n.replace("_", "-") for n in sorted(RESUMABLE_OPTIONS)))
    run_dir = RunDir(path)
    saved = run_dir.read_config()
    # Every rank resumes from the same file. None: the run stopped before its first checkpoint.
    state = read_checkpoint(run_dir.state_path, STATE_KIND) if run_dir.state_path.exists() else None
    step = state[1]["step"] if state else 0
    values = dict(saved["config"])
    if "steps" in overrides or "epochs" in overrides:
        values["steps"] = values["epochs"] = None
    # A run keeps the precision it started with, even if "auto" would now choose another.
    values["precision"] = saved["resolved"].get("precision", values.get("precision", "fp32"))
    recorded_threads = state[1].get("threads") if state else None
    if recorded_threads and "threads" not in overrides:
        values["threads"] = recorded_threads
    values.update(overrides)
    config = RunConfig.from_json(values)
    with joined(config.device) as world:

        def prepare() -> Assembly:
            assembly = assemble(config, registry, world)
            if world.is_main:
                check_output(run_dir.path, assembly.parameter_count)
            if step >= assembly.total_steps:
                raise GanzooError(f"{path} is already at step {step} of {assembly.total_steps}; "
                                  f"pass --steps larger than {step} to continue it")
            if world.is_main:
                run_dir.remove_temporary_files()  # left by a process killed mid-write
                run_dir.create_layout()
                run_dir.write_config(assembly.describe())
                run_dir.truncate_metrics(step)
                if recorded_threads and config.threads != recorded_threads:
                    run_dir.append_metrics({"step": step, "event": "threads-changed", "threads": config.threads,
                                            "checkpoint_threads": recorded_threads})
            return assembly

        assembly = world.main_first(prepare)
        return _train(assembly, run_dir, state, reporter or SilentReporter())


def _train(assembly: Assembly, run_dir: RunDir, saved: tuple[dict, dict] | None, reporter: Reporter) -> RunOutcome:
    return TrainingSession(assembly, run_dir, saved, reporter).train()


