"""``--truncation PSI`` on ``ganzoo sample`` and ``ganzoo interpolate``: a tiny StyleGAN2, and its refusals."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from ganzoo.contract.components import DataSpec
from ganzoo.errors import GanzooError
from ganzoo.evaluation.sampling import generate, load_generator
from ganzoo.evaluation.truncation import truncated
from ganzoo.registry import load_registry
from ganzoo.storage.checkpoint import GeneratorRecord, save_generator
from tests.cli.test_cli_properties import snapshot
from tests.helpers import assert_one_line_error, invoke

LATENT_DIM = 16
#: The smallest widths tests/plugins/test_stylegan2.py builds with: 8 feature maps at 16 px.
TINY = {"channel_base": 128, "channel_max": 8, "mapping_layers": 2, "w_dim": 12, "mbstd_group": 4}


def tiny_stylegan2(path, noise_strength: float = 0.0):
    """A StyleGAN2 generator file for 16 px digits, with a non-trivial average latent ``w_avg``.

    A freshly built generator's per-pixel noise has strength 0; ``noise_strength`` turns it on.
    """
    architecture = load_registry().architecture("stylegan2")
    spec = DataSpec((1, 16, 16))
    options = {**architecture.options, **TINY}
    torch.manual_seed(0)
    generator, _ = architecture.build(spec, LATENT_DIM, **options)
    with torch.no_grad():
        generator.mapping.w_avg.normal_()
        for name, parameter in generator.named_parameters():
            if name.endswith("noise_strength"):
                parameter.fill_(noise_strength)
    save_generator(path, generator, GeneratorRecord("stylegan2", options, spec.to_json(), LATENT_DIM, False, 0, {}))
    return path


@pytest.fixture(scope="module")
def stylegan2_file(tmp_path_factory):
    return tiny_stylegan2(tmp_path_factory.mktemp("sg2") / "generator.safetensors")


@pytest.fixture(scope="module")
def noisy_stylegan2_file(tmp_path_factory):
    return tiny_stylegan2(tmp_path_factory.mktemp("sg2-noisy") / "generator.safetensors", noise_strength=0.5)


def sampled(source, tmp_path, *options) -> torch.Tensor:
    out = tmp_path / f"s{len(list(tmp_path.iterdir()))}.safetensors"
    result = invoke("sample", source, "-n", 6, "-o", out, *options)
    assert result.exit_code == 0, result.output
    return load_file(str(out))["samples"]


# ---------------------------------------------------------------- ganzoo sample


def test_psi_1_is_the_identity_and_other_psis_change_the_samples(stylegan2_file, tmp_path):
    plain = sampled(stylegan2_file, tmp_path)
    assert torch.equal(sampled(stylegan2_file, tmp_path, "--truncation", 1), plain)
    half = sampled(stylegan2_file, tmp_path, "--truncation", 0.5)
    assert not torch.allclose(half, plain, atol=1e-3)
    assert torch.equal(sampled(stylegan2_file, tmp_path, "--truncation", 0.5), half)


def test_psi_0_gives_every_noise_the_average_latents_image(stylegan2_file, tmp_path):
    plain = sampled(stylegan2_file, tmp_path)
    assert not torch.allclose(plain[0], plain[1], atol=1e-3)  # different z, different images
    average = sampled(stylegan2_file, tmp_path, "--truncation", 0)
    assert torch.allclose(average, average[:1].expand_as(average), atol=1e-6)
    assert torch.allclose(sampled(stylegan2_file, tmp_path, "--truncation", 0, "--seed", 5), average, atol=1e-6)
    loaded = load_generator(stylegan2_file, load_registry(), torch.device("cpu"))
    at_average = loaded.network.synthesis(loaded.network.mapping.w_avg.expand(1, loaded.network.num_ws, -1))
    assert torch.allclose(average[0], at_average[0].detach(), atol=1e-5)


def test_the_attribute_is_restored_after_sampling_even_when_it_fails(stylegan2_file):
    network = load_generator(stylegan2_file, load_registry(), torch.device("cpu")).network
    with truncated(network, 0.3, "stylegan2") as inside:
        assert inside is network and network.truncation_psi == 0.3
        generate(network, LATENT_DIM, 2, device=torch.device("cpu"), seed=0)
    assert network.truncation_psi == 1.0
    with pytest.raises(RuntimeError), truncated(network, 0.7, "stylegan2"):
        raise RuntimeError("generation failed")
    assert network.truncation_psi == 1.0
    with truncated(network, None, "stylegan2"):
        assert network.truncation_psi == 1.0


@pytest.mark.parametrize("psi", [-0.1, 1.5, float("nan"), float("inf")])
def test_psi_outside_0_1_is_refused(psi):
    network = nn.Linear(2, 2)
    network.truncation_psi = 1.0
    with pytest.raises(GanzooError, match=r"\[0, 1\]"), truncated(network, psi, "x"):
        pass
    assert network.truncation_psi == 1.0


@pytest.mark.parametrize("value", ["1.5", "-1", "nan", "half"])
def test_the_cli_refuses_bad_psis_in_one_line(stylegan2_file, tmp_path, value):
    assert_one_line_error(invoke("sample", stylegan2_file, "--truncation", value, "-o", tmp_path / "x.png"),
                          "--truncation")
    assert not list(tmp_path.iterdir())


def test_a_generator_without_truncation_is_one_line_naming_its_architecture(mnist_run, tmp_path):
    before = snapshot(tmp_path)
    for command in (("sample", mnist_run), ("interpolate", mnist_run, "--seeds", "0,1")):
        line = assert_one_line_error(invoke(*command, "--truncation", 0.7, "-o", tmp_path / "x.png"))
        assert "dcgan" in line and "truncation_psi" in line and "docs/zoo.md" in line
    assert snapshot(tmp_path) == before


# ---------------------------------------------------------------- ganzoo interpolate


def test_interpolate_truncates_too(stylegan2_file, tmp_path):
    out = tmp_path / "walk.safetensors"
    result = invoke("interpolate", stylegan2_file, "--seeds", "0,1", "--frames", 4, "--truncation", 0, "-o", out)
    assert result.exit_code == 0, result.output
    frames = load_file(str(out))["samples"]
    assert frames.shape == (4, 1, 16, 16)
    assert torch.allclose(frames, frames[:1].expand_as(frames), atol=1e-6)


def test_per_pixel_noise_is_seeded_so_walks_repeat_whatever_the_global_rng(noisy_stylegan2_file, stylegan2_file,
                                                                              tmp_path):
    walks = {}
    for name, source, global_seed in (("a", noisy_stylegan2_file, 1), ("b", noisy_stylegan2_file, 2),
                                      ("quiet", stylegan2_file, 1)):
        out = tmp_path / f"{name}.safetensors"
        torch.manual_seed(global_seed)
        result = invoke("interpolate", source, "--seeds", "2,3", "--frames", 3, "-o", out)
        assert result.exit_code == 0, result.output
        walks[name] = load_file(str(out))["samples"]
    assert torch.equal(walks["a"], walks["b"])
    assert not torch.allclose(walks["a"], walks["quiet"], atol=1e-4)  # same weights but noise 0: the noise shows


def test_the_python_api_truncates_and_seeds_per_pixel_noise_like_the_cli(noisy_stylegan2_file, tmp_path):
    import ganzoo

    generator = ganzoo.load_generator(noisy_stylegan2_file)
    torch.manual_seed(123)
    first = generator.sample(4, seed=5, truncation=0.5)
    torch.manual_seed(456)  # another global RNG state: the per-pixel noise is drawn from the seed, not from it
    torch.testing.assert_close(generator.sample(4, seed=5, truncation=0.5), first)
    assert not torch.equal(generator.sample(4, seed=5), first)
    assert generator.network.truncation_psi == 1.0
    cli = sampled(noisy_stylegan2_file, tmp_path, "-n", 4, "--seed", 5, "--truncation", 0.5)
    torch.testing.assert_close(first, cli.add(1).div(2).clamp(0, 1))
