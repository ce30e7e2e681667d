"""The run directory: where a run's config, metrics, samples and checkpoints live.

Layout::

    RUN/config.json                      every option, resolved values, versions
    RUN/metrics.jsonl                    one JSON record per logged step
    RUN/samples/step_0000500.png         fixed-noise sample grids
    RUN/checkpoints/generator.safetensors   the latest generator, self-describing
    RUN/checkpoints/state.safetensors       everything needed to resume
    RUN/checkpoints/best-generator.safetensors   the best generator by the first --metrics entry
    RUN/eval.jsonl                       evaluation records with their full protocol
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ganzoo.storage.atomic import append_line, remove_temporary_files, write_text_atomic
from ganzoo.storage.config import RunConfig
from ganzoo.errors import GanzooError

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
GENERATOR_FILE = "checkpoints/generator.safetensors"
STATE_FILE = "checkpoints/state.safetensors"
BEST_GENERATOR_FILE = "checkpoints/best-generator.safetensors"


class RunDir:
    """Paths and small file operations of one run directory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    @property
    def generator_path(self) -> Path:
        return self.path / GENERATOR_FILE

    @property
    def best_generator_path(self) -> Path:
        return self.path / BEST_GENERATOR_FILE

    @property
    def state_path(self) -> Path:
        return self.path / STATE_FILE

    def sample_path(self, step: int) -> Path:
        """The sample grid written at ``step``."""
        return self.samples_dir / f"step_{step:07d}.png"

    def ensure_new(self) -> None:
        """Fail if the directory already holds a run (so a run never overwrites another)."""
        if self.config_path.exists():
            since = "" if self.state_path.exists() else " (it has no checkpoint yet: --resume starts it again from step 0)"
            raise GanzooError(f"{self.path} already holds a run; continue it with --resume {self.path}{since} "
                              "or choose another --out")
        if self.path.exists() and not self.path.is_dir():
            raise GanzooError(f"--out {self.path} is a file, not a directory")

    def create(self) -> None:
        """Create the directory tree of a new run."""
        self.ensure_new()
        self.create_layout()

    def create_layout(self) -> None:
        """Create the run's sub-directories where missing."""
        (self.path / "checkpoints").mkdir(parents=True, exist_ok=True)
        self.samples_dir.mkdir(parents=True, exist_ok=True)

    def write_config(self, config: dict[str, Any]) -> None:
        """Write ``config.json`` atomically."""
        write_text_atomic(self.config_path, json.dumps(config, indent=2, sort_keys=True) + "\n")

    def read_config(self) -> dict[str, Any]:
        """Read ``config.json``; GanzooError if the directory is not a run."""
        if not self.config_path.is_file():
            raise GanzooError(f"{self.path} is not a ganzoo run directory (no {CONFIG_FILE})")
        try:
            return json.loads(self.config_path.read_text())
        except json.JSONDecodeError as error:
            raise GanzooError(f"corrupt {self.config_path}: {error}") from None

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one record to ``metrics.jsonl`` (flushed, so a crash loses at most this line)."""
        append_line(self.metrics_path, json.dumps(record))

    def read_metrics(self) -> list[dict[str, Any]]:
        """All records of ``metrics.jsonl`` (a torn last line is skipped)."""
        return _read_jsonl(self.metrics_path) if self.metrics_path.exists() else []

    def remove_temporary_files(self) -> list[Path]:
        """Delete temporary files left by a process killed while writing (before resuming)."""
        return remove_temporary_files(self.path)

    def truncate_metrics(self, step: int) -> None:
        """Drop records after ``step`` from metrics.jsonl and eval.jsonl: on resume those steps are redone."""
        for path in (self.metrics_path, self.path / "eval.jsonl"):
            if path.exists():
                kept = [record for record in _read_jsonl(path) if record.get("step", 0) <= step]
                write_text_atomic(path, "".join(json.dumps(record) + "\n" for record in kept))


def recorded_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A run's ``config.json`` for ``--config`` (``path`` is the file or its run directory), checked for shape."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILE
    if not path.is_file():
        raise GanzooError(f"--config {path}: no such file (give a run's config.json or its directory)")
    try:
        saved = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise GanzooError(f"--config {path} is not valid JSON: {error}") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        raise GanzooError(f"--config {path} is not a ganzoo config.json (no \"config\" object)")
    return saved


def rerun_config(path: str | os.PathLike[str], overrides: dict[str, Any]) -> tuple[RunConfig, dict[str, Any]]:
    """The config to rerun a recorded run with, and the recorded ``config.json``.

    Options in ``overrides`` (given on the command line) win; ``--arch-option``
    and ``--data-option`` values are merged into the recorded ones, and
    ``--steps`` / ``--epochs`` replace both recorded totals.
    """
    saved = recorded_config(path)
    values = dict(saved["config"])
    if "steps" in overrides or "epochs" in overrides:
        values["steps"] = values["epochs"] = None
    overrides = dict(overrides)
    for key in ("arch_options", "data_options"):
        if key in overrides:
            overrides[key] = {**(values.get(key) or {}), **overrides[key]}
    values.update(overrides)
    return RunConfig.from_json(values), saved


def run_dir_of(generator_file: Path) -> Path:
    """The run directory a generator file belongs to, else the file's own directory."""
    generator_file = Path(generator_file)
    if generator_file.parent.name == "checkpoints" and (generator_file.parent.parent / CONFIG_FILE).is_file():
        return generator_file.parent.parent
    return generator_file.parent


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line torn by a crash
    return records
