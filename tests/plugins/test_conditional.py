"""Class-conditional architectures (cmlp, cdcgan): shapes, label plumbing, heads, every loss, sampling by class."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file

import ganzoo
from ganzoo_plugins.architectures import conditional
from tests.helpers import assert_one_line_error, invoke, read_metrics

LATENT_DIM = 8
SMALL = {"cmlp": {"generator_widths": (16, 32), "discriminator_widths": (32, 16), "embedding_dim": 4},
         "cdcgan": {"base_width": 4}}
SHAPES = {"cmlp": [(1, 28, 28), (2,)], "cdcgan": [(1, 28, 28), (3, 32, 32), (3, 64, 64)]}
CASES = [(name, shape, head) for name, shapes in SHAPES.items() for shape in shapes for head in ("projection", "acgan")]


@pytest.fixture(scope="module")
def archs() -> dict[str, ganzoo.Architecture]:
    found: list[ganzoo.Architecture] = []
    conditional.register_architectures(register=found.append)
    return {arch.name: arch for arch in found}


def build(arch, shape, head, classes=10):
    spec = ganzoo.DataSpec(shape, classes)
    return arch.build(spec, LATENT_DIM, **{**arch.options, **SMALL[arch.name], "head": head})


@pytest.mark.parametrize(("name", "shape", "head"), CASES)
def test_networks_take_labels_and_return_the_contract_shapes(archs, name, shape, head):
    assert archs[name].conditional
    torch.manual_seed(0)
    generator, discriminator = build(archs[name], shape, head)
    z, labels = torch.randn(6, LATENT_DIM), torch.tensor([0, 1, 2, 3, 9, 9])
    fake = generator(z, labels)
    assert fake.shape == (6, *shape) and fake.min() >= -1 and fake.max() <= 1
    output = discriminator(fake, labels)
    if head == "acgan":
        logits, class_logits = output
        assert logits.shape == (6,) and class_logits.shape == (6, 10)
    else:
        assert output.shape == (6,)


@pytest.mark.parametrize("name", ["cmlp", "cdcgan"])
def test_the_label_changes_the_sample_and_the_projection_logit(archs, name):
    torch.manual_seed(0)
    generator, discriminator = build(archs[name], (1, 28, 28), "projection")
    generator.eval()
    z = torch.randn(1, LATENT_DIM).repeat(2, 1)
    with torch.no_grad():
        for parameter in generator.parameters():  # move the per-class embeddings away from their identical init
            parameter.add_(0.1 * torch.randn_like(parameter))
        two = generator(z, torch.tensor([1, 7]))
        assert not torch.allclose(two[0], two[1])
        x = two[:1].repeat(2, 1, 1, 1)
        logits = discriminator(x, torch.tensor([1, 7]))
    assert logits[0] != logits[1]


def test_unknown_head_and_unlabelled_data_are_one_line_errors(archs, tmp_path):
    with pytest.raises(ganzoo.GanzooError, match="head must be one of projection, acgan; got 'gan'"):
        archs["cmlp"].build(ganzoo.DataSpec((2,), 8), LATENT_DIM, **{**archs["cmlp"].options, "head": "gan"})
    with pytest.raises(ganzoo.GanzooError, match="needs labelled data"):
        build(archs["cdcgan"], (1, 28, 28), "projection", classes=1)


LOSSES = ["bce", "minimax", "mse", "hinge", "wgan", "wgan-gp", "ragan", "rahinge"]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize(("arch", "data", "head"), [("cmlp", "mnist", "projection"), ("cdcgan", "colour", "acgan")])
def test_every_loss_trains_conditional_models_on_real_data(tmp_path, data_root, colour_data, loss, arch, data, head):
    out = tmp_path / "run"
    options = [f"{key}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for key, v in SMALL[arch].items()]
    data_options = colour_data if data == "colour" else ["--data", data, "--data-root", data_root]
    result = invoke("run", "--arch", arch, "--loss", loss, *data_options, "--steps", 2,
                    "--batch-size", 8, "--n-critic", 1, "--log-every", 1, "--latent-dim", LATENT_DIM,
                    *[arg for option in options for arg in ("--arch-option", option)],
                    "--arch-option", f"head={head}", "--out", out)
    assert result.exit_code == 0, result.output
    records = read_metrics(out)
    assert len(records) == 2 and all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in records)
    assert (out / "samples" / "step_0000002.png").is_file()


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    """A conditional model of ring8 (class = mode), trained long enough to separate the modes."""
    out = tmp_path_factory.mktemp("cring") / "run"
    result = invoke("run", "--arch", "cmlp", "--loss", "bce", "--data", "ring8", "--steps", 600, "--batch-size", 128,
                    "--arch-option", "generator_widths=64,64", "--arch-option", "discriminator_widths=64,64",
                    "--arch-option", "embedding_dim=8", "--log-every", 600, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_sampling_a_class_gives_samples_of_that_class(ring_run, tmp_path):
    from ganzoo.registry import load_registry

    centers = load_registry().dataset("ring8").centers
    for chosen in (3, 6):
        target = tmp_path / f"class{chosen}.safetensors"
        assert invoke("sample", ring_run, "-n", 200, "--class", chosen, "-o", target).exit_code == 0
        tensors = load_file(str(target))
        assert torch.equal(tensors["labels"], torch.full((200,), chosen))
        nearest = torch.cdist(tensors["samples"], centers).argmin(dim=1)
        assert (nearest == chosen).float().mean() > 0.8, nearest.bincount(minlength=8)


def test_without_a_class_each_class_gets_a_row_and_folders_split_by_class(ring_run, tmp_path):
    target = tmp_path / "all.safetensors"
    assert invoke("sample", ring_run, "-n", 20, "-o", target).exit_code == 0
    labels = load_file(str(target))["labels"]
    assert labels.tolist() == [label for label in range(8) for _ in range(3)]  # ceil(20 / 8) = 3 per class


def test_class_folders_for_conditional_image_models(tmp_path, colour_data):
    out = tmp_path / "run"
    assert invoke("run", "--arch", "cdcgan", "--loss", "bce", *colour_data, "--steps", 1, "--batch-size", 8, "--arch-option", "base_width=4", "--out", out).exit_code == 0
    assert invoke("sample", out, "-n", 3, "--class", "Cat", "-o", f"{tmp_path / 'cats'}/").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "cats").iterdir()) == ["cat"]
    assert len(list((tmp_path / "cats" / "cat").glob("*.png"))) == 3
    assert invoke("sample", out, "-n", 2, "-o", f"{tmp_path / 'all'}/").exit_code == 0
    assert len([p for p in (tmp_path / "all").iterdir() if p.is_dir()]) == 10
    result = invoke("sample", out, "--class", "unicorn", "-o", tmp_path / "x.png")
    assert_one_line_error(result, "unknown class 'unicorn'", "airplane", "truck")
    assert not (tmp_path / "x.png").exists()


def test_class_on_an_unconditional_generator_is_refused(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 1, "--out", out).exit_code == 0
    assert_one_line_error(invoke("sample", out, "--class", "1", "-o", tmp_path / "x.png"), "--class 1", "not class-conditional")
