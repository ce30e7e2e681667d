"""The fast path changes how training runs, never what it computes: preloading, precision, compile."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from ganzoo.training.batches import BatchStream
from ganzoo.compute.precision import PRECISIONS, resolve_precision
from ganzoo.registry import load_registry
from tests.helpers import assert_one_line_error, invoke, read_metrics

TOY = ("--arch", "mlp", "--loss", "bce", "--data", "ring8", "--batch-size", "32")


def checkpoint_tensors(run_dir):
    return load_file(str(run_dir / "checkpoints" / "state.safetensors"))


def test_preloaded_and_streamed_mnist_give_the_same_batches(data_root):
    mnist = load_registry().dataset("mnist").load(data_root, train=True, download=False)
    preloaded = BatchStream(mnist, 64, seed=7, device=torch.device("cpu"), preload=True)
    streamed = BatchStream(mnist, 64, seed=7, device=torch.device("cpu"), preload=False, position=0)
    assert preloaded.preloaded and not streamed.preloaded
    for _ in range(5):
        (real_a, labels_a), (real_b, labels_b) = next(preloaded), next(streamed)
        assert real_a.dtype == real_b.dtype == torch.float32
        assert torch.equal(real_a, real_b) and torch.equal(labels_a, labels_b)
        assert real_a.min() >= -1 and real_a.max() <= 1 and real_a.std() > 0.1


def test_preload_and_no_preload_runs_train_identically(tmp_path, data_root):
    runs = {}
    for flag in ("--preload", "--no-preload"):
        out = tmp_path / flag.strip("-")
        result = invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "mnist", "--data-root", data_root,
                        "--steps", 4, "--batch-size", 32, "--log-every", 1, "--precision", "fp32", flag, "--out", out)
        assert result.exit_code == 0, result.output
        runs[flag] = out
    assert [r["d_loss"] for r in read_metrics(runs["--preload"])] == [r["d_loss"] for r in read_metrics(runs["--no-preload"])]
    a, b = checkpoint_tensors(runs["--preload"]), checkpoint_tensors(runs["--no-preload"])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_preload_refuses_a_dataset_read_item_by_item():
    class ItemByItem(torch.utils.data.Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, index):
            return torch.zeros(2), 0

    with pytest.raises(Exception, match="--preload needs a dataset held in memory"):
        BatchStream(ItemByItem(), 2, seed=0, device=torch.device("cpu"), preload=True)


def test_auto_precision_is_recorded_and_kept_on_resume(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", *TOY, "--steps", 2, "--log-every", 1, "--out", out).exit_code == 0
    config = json.loads((out / "config.json").read_text())
    chosen = config["resolved"]["precision"]
    assert config["config"]["precision"] == "auto"
    assert chosen == resolve_precision("auto", torch.device("cpu")) and chosen in PRECISIONS
    assert invoke("run", "--resume", out, "--steps", 4).exit_code == 0
    assert json.loads((out / "config.json").read_text())["resolved"]["precision"] == chosen


def test_unknown_precision_names_the_choices(tmp_path):
    result = invoke("run", *TOY, "--steps", 2, "--precision", "int8", "--out", tmp_path / "run")
    assert_one_line_error(result, "int8", "auto", "fp32", "bf16", "fp16")
    assert not (tmp_path / "run").exists()


def test_conv_networks_train_channels_last_and_checkpoint_in_the_standard_layout(tmp_path, data_root):
    out = tmp_path / "run"
    result = invoke("run", "--arch", "dcgan", "--loss", "bce", "--data", "mnist", "--data-root", data_root,
                    "--steps", 2, "--batch-size", 16, "--arch-option", "base_width=8", "--out", out)
    assert result.exit_code == 0, result.output
    tensors = checkpoint_tensors(out)
    conv_weights = [t for name, t in tensors.items() if name.startswith("generator.") and t.dim() == 4]
    assert conv_weights and all(t.is_contiguous() for t in conv_weights)
    assert all(math.isfinite(r["d_loss"]) for r in read_metrics(out))


def test_compile_trains_the_same_model_with_the_same_checkpoint_keys(tmp_path):
    plain, compiled = tmp_path / "plain", tmp_path / "compiled"
    common = (*TOY, "--steps", 3, "--log-every", 1, "--arch-option", "generator_widths=16,16", "--arch-option", "discriminator_widths=16", "--precision", "fp32")
    assert invoke("run", *common, "--out", plain).exit_code == 0
    result = invoke("run", *common, "--compile", "--out", compiled)
    assert result.exit_code == 0, result.output
    a, b = checkpoint_tensors(plain), checkpoint_tensors(compiled)
    assert a.keys() == b.keys()
    for record_a, record_b in zip(read_metrics(plain), read_metrics(compiled), strict=True):
        assert record_b["d_loss"] == pytest.approx(record_a["d_loss"], rel=1e-3, abs=1e-4)
