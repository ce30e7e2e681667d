"""--ema, --ema-start and --generator: the average's update rule, what files hold, exact resume, errors."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from torch import nn

from ganzoo.training.ema import GeneratorAverage
from tests.helpers import assert_one_line_error, invoke, read_metrics, straight_and_resumed

TOY = ("--arch", "mlp", "--data", "ring8", "--loss", "bce", "--batch-size", "16", "--log-every", "1")


def _tensors(path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), "pt") as handle:
        return {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118


def test_the_average_copies_g_before_start_then_moves_towards_it_by_one_minus_decay():
    generator = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    average = GeneratorAverage(generator, decay=0.75, start=1)
    weight = generator[0].weight
    with torch.no_grad():
        weight.add_(1.0)
    average.update()  # update 0 < start: a copy
    assert average.network[0].weight.equal(weight)
    before = average.network[0].weight.clone()
    with torch.no_grad():
        weight.mul_(3.0)
        generator[1].running_mean.fill_(5.0)
    average.update()
    torch.testing.assert_close(average.network[0].weight, 0.75 * before + 0.25 * weight)
    assert average.network[1].running_mean.eq(5.0).all()  # buffers are copied, not averaged
    assert not any(p.requires_grad for p in average.network.parameters())
    with pytest.raises(ValueError, match="decay"):
        GeneratorAverage(generator, decay=1.0)


def _weights(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Parameters only: the generator file's batch-norm statistics are standing ones, recomputed."""
    return {key[len(prefix):]: value for key, value in tensors.items() if key.startswith(prefix)
            and not any(part in key for part in ("running_", "num_batches"))}


@pytest.mark.parametrize("extra, source", [(("--ema", "0.9"), "ema_generator."),
                                           (("--ema", "0.9", "--generator", "raw"), "generator."),
                                           ((), "generator.")])
def test_the_generator_file_holds_the_average_by_default_and_the_raw_weights_on_request(tmp_path, extra, source):
    out = tmp_path / "run"
    result = invoke("run", *TOY, "--steps", 3, *extra, "--out", out)
    assert result.exit_code == 0, result.output
    state = _tensors(out / "checkpoints" / "state.safetensors")
    written = _weights(_tensors(out / "checkpoints" / "generator.safetensors"), "generator.")
    expected = _weights(state, source)
    assert written.keys() == expected.keys() and all(written[k].equal(expected[k]) for k in written)
    if extra:  # the average differs from G after 3 updates at decay 0.9
        raw, average = _weights(state, "generator."), _weights(state, "ema_generator.")
        assert any(not raw[k].equal(average[k]) for k in raw)
    recorded = json.loads((out / "config.json").read_text())["resolved"]["generator"]
    assert recorded == ("ema" if source == "ema_generator." else "raw")
    with safe_open(str(out / "checkpoints" / "generator.safetensors"), "pt") as handle:
        extra_meta = json.loads(handle.metadata()["ganzoo"])["generator"]
    assert extra_meta.startswith(recorded)


def test_eval_records_which_generator_it_sampled(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", *TOY, "--steps", 2, "--ema", "0.99", "--ema-start", "1", "--out", out).exit_code == 0
    assert invoke("eval", out, "--metrics", "modes", "--num-samples", 200).exit_code == 0
    record = json.loads((out / "eval.jsonl").read_text().splitlines()[-1])
    assert record["sampled_from"] == "ema (decay 0.99, from step 1)"


def test_resume_is_exact_with_an_average_that_starts_after_the_checkpoint(tmp_path):
    common = (*TOY, "--ema", "0.8", "--ema-start", "3", "--checkpoint-every", "100", "--seed", "6", "--steps", 5)
    straight, split = straight_and_resumed(common, 2, tmp_path)
    assert [r["d_loss"] for r in read_metrics(split)] == [r["d_loss"] for r in read_metrics(straight)]
    expected, resumed = (_tensors(run / "checkpoints" / "state.safetensors") for run in (straight, split))
    assert any(key.startswith("ema_generator.") for key in expected)
    assert expected.keys() == resumed.keys() and all(expected[k].equal(resumed[k]) for k in expected)
    files = [_tensors(run / "checkpoints" / "generator.safetensors") for run in (straight, split)]
    assert all(files[0][k].equal(files[1][k]) for k in files[0])


@pytest.mark.parametrize("args, fragment", [(("--generator", "ema"), "--generator ema needs --ema DECAY"),
                                            (("--ema", "1.5"), "1.5"), (("--ema-start", "-1"), "-1")])
def test_bad_ema_values_are_errors(tmp_path, args, fragment):
    result = invoke("run", *TOY, "--steps", 1, *args, "--out", tmp_path / "run")
    assert result.exit_code == 2 and fragment in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()
    if args[0] == "--generator":
        assert_one_line_error(result, fragment)
