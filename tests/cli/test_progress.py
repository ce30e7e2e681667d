"""The progress display: run directory first, an ETA from the first log on, penalties, unbroken eval lines."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

import ganzoo
import ganzoo.contract.progress

from ganzoo.api.progress import ProgressDisplay as RichReporter
from tests.helpers import invoke

LOSSES = {"d_loss": 1.25, "g_loss": 0.75, "penalty": 0.0, "img_per_s": 1000.0}


def plain_reporter() -> tuple[RichReporter, io.StringIO]:
    stream = io.StringIO()
    return RichReporter(Console(file=stream, force_terminal=False, width=40)), stream


def test_the_eta_is_known_at_the_first_log_and_after_an_evaluation(monkeypatch):
    clock = iter([100.0, 110.0, 150.0, 160.0])
    monkeypatch.setattr("ganzoo.api.progress.time.monotonic", lambda: next(clock))
    reporter, stream = plain_reporter()
    reporter.start(100, 0)  # t = 100
    reporter.log({"step": 10, **LOSSES})  # t = 110: 1 s a step, 90 to go
    reporter.log({"step": 10, "eval": {"modes": {"modes": 8.0}}, "best": True})
    reporter.log({"step": 20, **LOSSES})  # t = 150, after a long evaluation: 2.5 s a step, 80 to go
    lines = stream.getvalue().splitlines()
    assert lines[1].endswith("ETA 0:01:30"), lines
    assert lines[3].endswith("ETA 0:03:20"), lines
    assert "-:--:--" not in stream.getvalue()


def test_evaluation_lines_are_not_wrapped_in_plain_logs():
    reporter, stream = plain_reporter()
    reporter.start(10, 0)
    values = {f"value_{index}": float(index) for index in range(8)}
    reporter.log({"step": 5, "eval": {"classifier": values}, "best": False})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and all(f"value_{index} {index}" in lines[1] for index in range(8)), lines


def test_a_penalty_is_shown_only_for_losses_that_have_one():
    reporter, stream = plain_reporter()
    reporter.start(10, 0)
    reporter.log({"step": 1, **LOSSES})
    reporter.log({"step": 2, **LOSSES, "penalty": 0.125})
    first, second = stream.getvalue().splitlines()[1:]
    assert "penalty" not in first and "penalty 0.1250" in second


def test_a_run_names_its_directory_before_training(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "--arch", "mlp", "--loss", "wgan-gp", "--data", "ring8", "--steps", 2, "--log-every", 1,
                    "--out", out)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"run directory: {out}"
    assert "penalty" in lines[2]  # wgan-gp's gradient penalty


def test_long_steps_and_checkpoints_are_shown_as_lines_when_not_a_terminal():
    from ganzoo.contract.progress import showing_progress

    reporter, stream = plain_reporter()
    with showing_progress(reporter):
        with ganzoo.progress_task("decoding 10 images", total=10) as task:
            task.advance(10)
        assert list(ganzoo.track([1, 2, 3], "counting")) == [1, 2, 3]
    reporter.start(10, 0)
    reporter.checkpointed(5, Path("RUN/checkpoints/state.safetensors"))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "decoding 10 images..." and lines[1].startswith("decoding 10 images: done in ")
    assert lines[2] == "counting..." and lines[3].startswith("counting: done in ")
    assert lines[-1] == "step 5/10  checkpoint written: RUN/checkpoints/state.safetensors"


def test_on_a_terminal_one_display_holds_the_training_bar_and_long_steps():
    stream = io.StringIO()
    reporter = RichReporter(Console(file=stream, force_terminal=True, width=160))
    reporter.start(10, 0)
    reporter.log({"step": 2, **LOSSES})
    with ganzoo.contract.progress.showing_progress(reporter):
        with ganzoo.progress_task("reference statistics", total=4) as task:
            task.advance(2)
            assert len(reporter._progress.tasks) == 2  # the training bar and the long step, in one live display
    reporter.log({"step": 4, "eval": {"classifier": {"classifier_fid": 12.5}}, "best": True})
    reporter.checkpointed(4, Path("RUN/checkpoints/state.safetensors"))
    notes = reporter._progress.tasks[0].fields["notes"]
    assert notes == "eval@4: classifier_fid 12.5  checkpoint@4"
    reporter.finish()
    assert reporter._progress is None and "reference statistics" in stream.getvalue()


def test_library_calls_without_a_display_show_nothing(capsys):
    with ganzoo.progress_task("silent", total=2) as task:
        task.advance()
    assert capsys.readouterr() == ("", "")


def test_a_cli_evaluation_names_its_long_steps(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", "--arch", "dcgan", "--loss", "bce", "--data", "mnist-mini", "--steps", 2, "--batch-size", 8,
                  "--arch-option", "base_width=8", "--out", out).exit_code == 0
    result = invoke("eval", out, "--metrics", "classifier", "--num-samples", 64,
                    env={"GANZOO_CACHE": str(tmp_path / "cache")})
    assert result.exit_code == 0, result.output
    for step in ("training the small-cnn evaluator", "reference statistics of the train split",
                 "generating 64 samples"):
        assert f"{step}" in result.output and "done in" in result.output, result.output


def test_with_a_time_budget_the_eta_is_the_budget_left_when_it_ends_first(monkeypatch):
    clock = iter([100.0, 100.0, 110.0, 120.0])
    monkeypatch.setattr("ganzoo.api.progress.time.monotonic", lambda: next(clock))
    reporter, stream = plain_reporter()
    reporter.start(1_000_000, 0)  # t = 100
    reporter.time_budget(60)  # t = 100: ends at t = 160
    reporter.log({"step": 10, **LOSSES})  # t = 110: a million steps would take 11 days; the budget has 50 s
    reporter.log({"step": 20, **LOSSES})  # t = 120: 40 s left
    lines = stream.getvalue().splitlines()
    assert lines[1].endswith("ETA 0:00:50") and lines[2].endswith("ETA 0:00:40"), lines
