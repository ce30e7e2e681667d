"""Run-lifecycle hooks: order, arguments, and the built-in losses.png plot."""

from __future__ import annotations

import types

from PIL import Image

import ganzoo
from tests.helpers import invoke, read_metrics
from tests.evaluation.test_eval import Scripted, metric_plugin

TOY = ("--arch", "mlp", "--loss", "bce", "--data", "ring8", "--batch-size", "32")


def recording_plugin(calls: list):
    module = types.ModuleType("recorder")

    @ganzoo.hookimpl
    def on_run_start(run):
        calls.append(("on_run_start", run.start_step, run.total_steps, run.config["config"]["arch"]))

    @ganzoo.hookimpl
    def on_step_end(run, step, record):
        calls.append(("on_step_end", step, None if record is None else record["step"]))

    @ganzoo.hookimpl
    def on_eval(run, step, results, best):
        calls.append(("on_eval", step, results["scripted"]["score"], best))

    @ganzoo.hookimpl
    def on_checkpoint(run, step, path):
        calls.append(("on_checkpoint", step, path.endswith("state.safetensors")))

    @ganzoo.hookimpl
    def on_run_end(run, step, interrupted):
        calls.append(("on_run_end", step, interrupted, run.generator.training))

    for name, function in list(locals().items()):
        if name.startswith("on_"):
            setattr(module, name, function)
    return module


def test_lifecycle_hooks_fire_in_order(tmp_path):
    calls: list = []
    out = tmp_path / "run"
    result = invoke("run", *TOY, "--steps", 4, "--log-every", 2, "--checkpoint-every", 2, "--eval-every", 4,
                    "--metrics", "scripted", "--eval-samples", 16, "--out", out,
                    extra_plugins=[recording_plugin(calls), metric_plugin(Scripted([0.5]))])
    assert result.exit_code == 0, result.output
    assert calls == [
        ("on_run_start", 0, 4, "mlp"),
        ("on_step_end", 1, None),
        ("on_step_end", 2, 2),
        ("on_checkpoint", 2, True),
        ("on_step_end", 3, None),
        ("on_step_end", 4, 4),
        ("on_eval", 4, 0.5, True),
        ("on_checkpoint", 4, True),
        ("on_run_end", 4, False, True),
    ]


def test_a_resumed_run_starts_from_its_checkpoint(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", *TOY, "--steps", 2, "--out", out).exit_code == 0
    calls: list = []
    assert invoke("run", "--resume", out, "--steps", 3, extra_plugins=[recording_plugin(calls)]).exit_code == 0
    assert calls[0] == ("on_run_start", 2, 3, "mlp")
    assert calls[-1][:3] == ("on_run_end", 3, False)


def test_every_run_ends_with_a_loss_plot(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", "--arch", "mlp", "--loss", "wgan-gp", "--data", "ring8", "--steps", 6, "--log-every", 2,
                  "--out", out).exit_code == 0
    assert len(read_metrics(out)) == 3
    plot = Image.open(out / "losses.png")
    assert plot.format == "PNG" and plot.size == (700, 400)


def test_a_plugin_that_failed_to_register_gets_no_lifecycle_calls(tmp_path):
    calls: list = []
    broken = recording_plugin(calls)

    @ganzoo.hookimpl
    def register_losses(register):
        raise RuntimeError("broken on purpose")

    broken.register_losses = register_losses
    assert invoke("run", *TOY, "--steps", 2, "--out", tmp_path / "run", extra_plugins=[broken]).exit_code == 0
    assert calls == []


def test_tensorboard_logger_writes_losses_evaluations_and_samples(tmp_path, data_root):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    result = invoke("run", "--arch", "dcgan", "--loss", "bce", "--data", "mnist", "--data-root", data_root,
                    "--steps", 4, "--log-every", 2, "--sample-every", 2, "--batch-size", 8,
                    "--arch-option", "base_width=4", "--log", "tensorboard", "--metrics", "scripted",
                    "--eval-samples", 8, "--out", out, extra_plugins=[metric_plugin(Scripted([0.25]))])
    assert result.exit_code == 0, result.output
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"loss/d", "loss/g", "loss/penalty", "speed/img_per_s", "eval/scripted/score"} <= set(scalars)
    assert [e.step for e in events.Scalars("loss/d")] == [2, 4]
    d_losses = [r["d_loss"] for r in read_metrics(out) if "d_loss" in r]
    assert len(d_losses) == 2
    assert all(abs(e.value - v) < 1e-5 for e, v in zip(events.Scalars("loss/d"), d_losses))
    assert [e.value for e in events.Scalars("eval/scripted/score")] == [0.25]
    assert [e.step for e in events.Images("samples")] == [2, 4]


def test_unknown_logger_is_one_line(tmp_path):
    from tests.helpers import assert_one_line_error

    result = invoke("run", *TOY, "--steps", 1, "--log", "tensorbord", "--out", tmp_path / "run")
    assert_one_line_error(result, "unknown logger 'tensorbord'", "Did you mean 'tensorboard'?")
    assert not (tmp_path / "run").exists()


def test_a_third_party_logger_registers_and_receives_the_run(tmp_path):
    received: list = []

    class ListRunLogger(ganzoo.RunLogger):
        def scalars(self, step, values):
            received.append(("scalars", step, sorted(values)))

        def close(self):
            received.append(("close",))

    class ListLogger(ganzoo.Logger):
        name = "list"
        description = "keeps logged values in a list"

        def open(self, run):
            received.append(("open", run.total_steps))
            return ListRunLogger()

    module = types.ModuleType("list-logger")

    @ganzoo.hookimpl
    def register_loggers(register):
        register(ListLogger())

    module.register_loggers = register_loggers
    out = tmp_path / "run"
    result = invoke("run", *TOY, "--steps", 2, "--log-every", 1, "--log", "list", "--out", out, extra_plugins=[module])
    assert result.exit_code == 0, result.output
    names = ["loss/d", "loss/g", "loss/penalty", "speed/img_per_s"]
    assert received == [("open", 2), ("scalars", 1, names), ("scalars", 2, names), ("close",)]
    # Without --log the logger is never opened.
    received.clear()
    assert invoke("run", *TOY, "--steps", 1, "--out", tmp_path / "quiet", extra_plugins=[module]).exit_code == 0
    assert received == []
