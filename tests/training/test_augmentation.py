"""--augment through real runs: where D's inputs pass through it, what is recorded and logged, exact resume."""

from __future__ import annotations

import json
import types

import pytest
from safetensors import safe_open

import ganzoo
from tests.helpers import assert_one_line_error, invoke, read_metrics, straight_and_resumed

IMAGES = ("--arch", "dcgan", "--data", "mnist-mini", "--arch-option", "base_width=8", "--batch-size", "16",
          "--log-every", "1")


class _Counting(ganzoo.AugmentPipe):
    def __init__(self, seen: list):
        super().__init__()
        self.seen = seen

    def forward(self, images):
        self.seen.append((len(images), images.requires_grad))
        return images + 0.0


def _spy(seen: list, real_only: bool = False) -> types.ModuleType:
    class Spy(ganzoo.Augmentation):
        name = "spy"
        description = "records the batches it transforms"

        def build(self, spec, **options):
            return _Counting(seen)

    Spy.real_only = real_only
    plugin = types.ModuleType("spy-plugin")
    plugin.register_augmentations = ganzoo.hookimpl(lambda register: register(Spy()))
    plugin.register_augmentations.__name__ = "register_augmentations"
    return plugin


def test_every_batch_d_sees_goes_through_the_augmentation_regularizers_and_g_update_included(tmp_path):
    seen: list = []
    result = invoke("run", *IMAGES, "--loss", "hinge", "--steps", 1, "--augment", "spy", "--reg", "r1",
                    "--out", tmp_path / "run", extra_plugins=[_spy(seen)])
    assert result.exit_code == 0, result.output
    # D's update: real, fake, r1 on real (requires grad); G's update: fake (G's graph attached).
    training = seen[:4]
    assert [n for n, _ in training] == [16, 16, 16, 16]
    assert training[2][1] and training[3][1]  # r1's input and G's fakes carry gradients through the augmentation


def test_a_real_only_augmentation_sees_the_real_batch_alone(tmp_path):
    seen: list = []
    result = invoke("run", *IMAGES, "--loss", "ragan", "--steps", 2, "--augment", "spy", "--out", tmp_path / "run",
                    extra_plugins=[_spy(seen, real_only=True)])
    assert result.exit_code == 0, result.output
    assert [n for n, _ in seen[:2]] == [16, 16] and not any(grad for _, grad in seen[:2])  # one real batch a step


def test_ada_records_its_options_logs_p_and_checkpoints_it(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", *IMAGES, "--loss", "bce", "--steps", 4, "--augment", "ada:interval=1,speed_kimg=0.1,target=-1",
                    "--augment", "diffaugment:policy=color,translation", "--out", out)
    assert result.exit_code == 0, result.output
    resolved = json.loads((out / "config.json").read_text())["resolved"]["augmentations"]
    assert resolved == [{"name": "ada", "options": {"target": -1.0, "interval": 1, "speed_kimg": 0.1}},
                        {"name": "diffaugment", "options": {"policy": ["color", "translation"], "translation": 0.125,
                                                            "cutout": 0.5}}]
    logged = [record["ada_p"] for record in read_metrics(out)]
    # target -1: any D is above it, so p rises by 16 images / 100 per update
    assert logged == pytest.approx([0.16, 0.32, 0.48, 0.64])
    with safe_open(str(out / "checkpoints" / "state.safetensors"), "pt") as handle:
        assert handle.get_tensor("augmentation.0.ada.p").item() == pytest.approx(logged[-1])


@pytest.mark.parametrize("args, fragments", [
    (("--augment", "adaa"), ("unknown augmentation 'adaa'", "ada", "diffaugment")),
    (("--augment", "diffaugment:policy=colour"), ("colour", "color", "translation")),
    (("--augment", "ada:taget=0.5"), ("taget", "target")),
    (("--augment", "ada", "--augment", "ada"), ("--augment ada is given twice",)),
])
def test_bad_augment_values_are_one_line_errors(tmp_path, args, fragments):
    result = invoke("run", *IMAGES, "--loss", "bce", "--steps", 1, *args, "--out", tmp_path / "run")
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "run").exists()


ALL_ON = ("--loss", "hinge", "--reg", "lecam", "--reg", "r1:gamma=0.1,every=2", "--augment",
          "ada:interval=1,speed_kimg=0.05,target=-1", "--augment", "diffaugment", "--augment", "flip", "--ema", "0.9",
          "--ema-start", "2", "--spectral-norm", "both", "--lr-schedule", "linear", "--precision", "fp32")


def test_resume_is_exact_with_every_technique_on(tmp_path):
    common = (*IMAGES, *ALL_ON, "--checkpoint-every", "100", "--seed", "8", "--steps", 6)
    straight, split = straight_and_resumed(common, 3, tmp_path)
    assert read_metrics(split)[-1]["ada_p"] > 0
    keys = ("d_loss", "g_loss", "penalty", "ada_p")
    assert [[r[k] for k in keys] for r in read_metrics(split)] == [[r[k] for k in keys] for r in read_metrics(straight)]
    for name in ("state", "generator"):
        with safe_open(str(straight / "checkpoints" / f"{name}.safetensors"), "pt") as a, \
                safe_open(str(split / "checkpoints" / f"{name}.safetensors"), "pt") as b:
            assert sorted(a.keys()) == sorted(b.keys())
            assert all(a.get_tensor(key).equal(b.get_tensor(key)) for key in a.keys()), name  # noqa: SIM118


def test_augmentations_train_under_bf16_autocast(tmp_path):
    """G's bf16 fakes reach the pipes as float32 outside autocast (ADA's resampling once failed on them)."""
    out = tmp_path / "run"
    result = invoke("run", *IMAGES, "--loss", "hinge", "--steps", 2, "--precision", "bf16", "--augment",
                    "ada:target=-1,interval=1,speed_kimg=0.1", "--augment", "diffaugment", "--augment", "flip",
                    "--reg", "cr", "--out", out)
    assert result.exit_code == 0, result.output
    assert [r["ada_p"] for r in read_metrics(out)] == pytest.approx([0.16, 0.32])
