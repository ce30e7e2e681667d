"""The Python API gives what the CLI gives: the same runs, samples and evaluation records, the same errors."""

from __future__ import annotations

import json

import pytest
import safetensors.torch
import torch

import ganzoo
from tests.helpers import invoke, read_metrics

TINY = {"steps": 6, "batch_size": 16, "log_every": 2, "sample_every": 6, "checkpoint_every": 3,
        "arch_options": {"base_width": 8}}
CLI_TINY = ("--steps", 6, "--batch-size", 16, "--log-every", 2, "--sample-every", 6, "--checkpoint-every", 3,
            "--arch-option", "base_width=8")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "run"
    return ganzoo.train("dcgan", "bce", "mnist-mini", out=out, progress=False, **TINY)


def test_train_is_ganzoo_run(trained, tmp_path):
    cli = tmp_path / "cli"
    result = invoke("run", "--arch", "dcgan", "--loss", "bce", "--data", "mnist-mini", *CLI_TINY, "--out", cli)
    assert result.exit_code == 0, result.output
    assert trained.step == trained.total_steps == 6 and not trained.interrupted
    strip = lambda records: [{k: v for k, v in r.items() if k not in ("time", "img_per_s")} for r in records]  # noqa: E731
    assert strip(read_metrics(trained.run_dir)) == strip(read_metrics(cli))  # the same losses, step by step
    assert strip(trained.metrics) == strip(read_metrics(cli))
    recorded = json.loads((trained.run_dir / "config.json").read_text())["config"]
    typed = json.loads((cli / "config.json").read_text())["config"]
    assert typed.pop("arch_options") == {"base_width": "8"} and recorded.pop("arch_options") == {"base_width": 8}
    assert recorded == typed  # the CLI records option values as typed, Python as given; all else is equal


def test_options_take_cli_spellings_and_strings(tmp_path):
    result = ganzoo.train("mlp", "wgan-gp", "ring8", steps=2, log_every=1, reg="r1:gamma=2", betas="0.0,0.9",
                          arch_option=["generator_widths=16,16"], metrics="modes", out=tmp_path / "run", progress=False)
    config = json.loads((result.run_dir / "config.json").read_text())["config"]
    assert config["regularizers"] == ["r1:gamma=2"] and config["betas"] == [0.0, 0.9]
    assert config["arch_options"] == {"generator_widths": "16,16"} and config["metrics"] == ["modes"]
    assert result.evaluations and "modes" in result.evaluations[-1]["eval"]


@pytest.mark.parametrize(("options", "fragments"), [
    ({"stepz": 5}, ("unknown option 'stepz'", "steps")),
    ({"steps": 0}, ("--steps", "positive")),
    ({"optimizer": "sgd"}, ("sgd", "adam")),
])
def test_bad_options_raise_one_line_errors_and_write_nothing(tmp_path, options, fragments):
    with pytest.raises(ganzoo.GanzooError) as raised:
        ganzoo.train("dcgan", "bce", "mnist-mini", out=tmp_path / "run", progress=False, **options)
    message = str(raised.value)
    assert "\n" not in message and all(fragment in message for fragment in fragments), message
    assert not (tmp_path / "run").exists()


def test_resume_continues_to_the_new_total(trained, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained.run_dir, copy)
    more = ganzoo.train(resume=copy, steps=10, progress=False)
    assert more.step == 10 and [record["step"] for record in more.metrics] == [8, 10]


def test_a_loaded_generator_samples_what_ganzoo_sample_writes(trained, tmp_path):
    generator = ganzoo.load_generator(trained.run_dir)
    assert isinstance(generator, torch.nn.Module) and not generator.training
    images = generator.sample(10, seed=3)
    assert images.shape == (10, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    out = tmp_path / "samples.safetensors"
    assert invoke("sample", trained.run_dir, "-n", 10, "--seed", 3, "-o", out).exit_code == 0
    written = safetensors.torch.load_file(str(out))["samples"]
    torch.testing.assert_close(images, written.add(1).div(2).clamp(0, 1) if written.min() < 0 else written)
    z = torch.randn(2, generator.latent_dim)
    assert generator(z).shape == (2, 1, 28, 28) and generator(z).min() >= -1


def test_a_conditional_generator_takes_class_names_indices_or_balanced_labels(tmp_path):
    run = ganzoo.train("cdcgan", "bce", "mnist-mini", out=tmp_path / "run", progress=False, **{**TINY, "steps": 2})
    generator = ganzoo.load_generator(run.run_dir)
    assert generator.conditional
    by_index = generator.sample(4, labels=7, seed=1)
    torch.testing.assert_close(generator.sample(4, labels=[7, 7, 7, 7], seed=1), by_index)
    assert not torch.equal(generator.sample(4, labels=[0, 1, 2, 3], seed=1), by_index)
    torch.testing.assert_close(generator.sample(4, seed=1), generator.sample(4, labels=[0, 1, 2, 3], seed=1))
    with pytest.raises(ganzoo.GanzooError, match="unknown class 12"):
        generator.sample(2, labels=12)
    with pytest.raises(ganzoo.GanzooError, match="2 labels"):
        generator.sample(3, labels=[1, 2])


def test_evaluate_appends_the_record_ganzoo_eval_would(trained, tmp_path):
    scores = ganzoo.evaluate(trained.run_dir, "classifier", num_samples=200, append=False)
    assert set(scores.values) == {"classifier"} and scores.eval_file is None
    result = invoke("eval", trained.run_dir, "--metrics", "classifier", "--num-samples", 200)
    assert result.exit_code == 0, result.output
    record = json.loads((trained.run_dir / "eval.jsonl").read_text().splitlines()[-1])
    assert record["metrics"]["classifier"]["values"] == scores.values["classifier"]  # the same samples and numbers
    assert scores.record["step"] == record["step"] == 6


def test_list_plugins_and_recipes_are_plain_data():
    plugins = ganzoo.list_plugins()
    assert {"architectures", "losses", "datasets", "metrics", "recipes"} <= set(plugins)
    assert "dcgan" in plugins["architectures"] and isinstance(plugins["architectures"]["dcgan"], str)
    recipes = ganzoo.list_recipes()
    assert recipes["sngan-cifar10"]["settings"]["arch"] == "sngan"
    json.dumps(recipes)  # plain JSON data
