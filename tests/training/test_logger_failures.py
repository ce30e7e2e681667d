"""A logging backend that fails mid-run stops the run like a failing hook: one line, a checkpoint, others closed."""

from __future__ import annotations

import types

import ganzoo
from tests.helpers import assert_error_after_progress, invoke, read_metrics

EVENTS: list[str] = []


class RecordingRunLogger(ganzoo.RunLogger):
    def __init__(self, name: str, fail_in: str | None, at_step: int) -> None:
        self.name, self.fail_in, self.at_step = name, fail_in, at_step

    def scalars(self, step, values):
        EVENTS.append(f"{self.name} scalars {step}")
        if self.fail_in == "scalars" and step >= self.at_step:
            raise ConnectionError("tracking server went away\nsecond line of a long trace")

    def close(self):
        EVENTS.append(f"{self.name} close")


class RecordingLogger(ganzoo.Logger):
    def __init__(self, name: str, fail_in: str | None = None, at_step: int = 0) -> None:
        self.name, self.description, self.fail_in, self.at_step = name, "records calls", fail_in, at_step

    def open(self, run):
        if self.fail_in == "open":
            raise RuntimeError("cannot reach the server")
        EVENTS.append(f"{self.name} open")
        return RecordingRunLogger(self.name, self.fail_in, self.at_step)


def loggers(*components: RecordingLogger) -> types.ModuleType:
    plugin = types.ModuleType("recording-loggers")

    @ganzoo.hookimpl
    def register_loggers(register):
        for component in components:
            register(component)

    plugin.register_loggers = register_loggers
    return plugin


def test_a_logger_failing_mid_run_stops_it_with_one_line_and_a_resumable_checkpoint(tmp_path):
    EVENTS.clear()
    out = tmp_path / "run"
    plugin = loggers(RecordingLogger("steady"), RecordingLogger("flaky", "scalars", at_step=4))
    result = invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 10, "--log-every", 2,
                    "--checkpoint-every", 100, "--log", "steady,flaky", "--out", out, extra_plugins=(plugin,))
    line = assert_error_after_progress(result, "logger 'flaky' failed in scalars: ConnectionError: tracking server "
                                               "went away", "checkpoint of step 4 saved", f"--resume {out}")
    assert "second line" not in line
    assert EVENTS[-2:] == ["steady close", "flaky close"]  # both closed, the healthy one too
    assert read_metrics(out)[-1]["step"] == 4
    resumed = invoke("run", "--resume", out, "--steps", 10, "--log", "steady", extra_plugins=(plugin,))
    assert resumed.exit_code == 0, resumed.output


def test_a_logger_failing_to_open_closes_the_ones_already_open(tmp_path):
    EVENTS.clear()
    plugin = loggers(RecordingLogger("first"), RecordingLogger("broken", "open"))
    result = invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 4, "--log",
                    "first,broken", "--out", tmp_path / "run", extra_plugins=(plugin,))
    assert_error_after_progress(result, "logger 'broken' failed in open: RuntimeError: cannot reach the server")
    assert EVENTS == ["first open", "first close"]
