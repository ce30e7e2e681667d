"""--spectral-norm: which layers it normalises, the singular values it leaves, files, resume, penalties, bf16."""

from __future__ import annotations

import json
import types

import pytest
import torch
from safetensors import safe_open
from torch import nn
from torch.nn.utils import parametrize

import ganzoo
from ganzoo.training.spectral_norm import (
    SpectralNormalization,
    apply_spectral_norm,
    folded,
)
from tests.helpers import assert_one_line_error, invoke, read_metrics, straight_and_resumed

IMAGES = ("--arch", "dcgan", "--data", "mnist-mini", "--arch-option", "base_width=8", "--batch-size", "16",
          "--log-every", "1")


def _keys(path) -> list[str]:
    with safe_open(str(path), "pt") as handle:
        return list(handle.keys())


def _largest_singular_value(weight: torch.Tensor, output_dim: int = 0) -> float:
    return torch.linalg.matrix_norm(weight.detach().movedim(output_dim, 0).flatten(1).double(), ord=2).item()


def test_every_linear_convolution_and_embedding_layer_is_normalised_and_nothing_else():
    network = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ConvTranspose2d(8, 4, 4), nn.Flatten(),
                            nn.Linear(4, 2), nn.Embedding(10, 2))
    assert apply_spectral_norm(network) == 4
    assert [parametrize.is_parametrized(m) for m in network] == [True, False, True, False, True, True]
    assert apply_spectral_norm(network) == 0  # applying twice changes nothing


@pytest.mark.parametrize("make, output_dim", [(lambda: nn.Linear(20, 30), 0), (lambda: nn.Conv2d(6, 5, 3), 0),
                                              (lambda: nn.ConvTranspose2d(6, 5, 4), 1)], ids=["linear", "conv", "convT"])
def test_normalised_weights_have_largest_singular_value_one(make, output_dim):
    torch.manual_seed(0)  # before the layer is made: its weights (and so the spectral gap) are the same every run
    layer = make()
    with torch.no_grad():
        layer.weight.mul_(7.0)
    apply_spectral_norm(layer)
    # One power iteration per training pass; the estimate approaches sigma from below, at the rate of the gap.
    for _ in range(200):
        layer.weight  # noqa: B018 -- reading it runs the parametrization
    assert _largest_singular_value(layer.weight, output_dim) == pytest.approx(1.0, rel=1e-3)
    original = layer.parametrizations.weight.original
    assert _largest_singular_value(original, output_dim) == pytest.approx(
        7.0 * _largest_singular_value(original / 7.0, output_dim), rel=1e-6)  # the raw weight is untouched


def test_the_estimate_moves_only_in_training_mode_and_stays_float32_under_bf16():
    torch.manual_seed(3)
    layer = nn.Linear(16, 8)
    apply_spectral_norm(layer)
    norm: SpectralNormalization = layer.parametrizations.weight[0]
    with torch.no_grad():  # a weight the estimate has not converged on, so an iteration must move it
        layer.parametrizations.weight.original.mul_(torch.rand(8, 16) + 0.5)
    layer.eval()
    before = norm._u.clone()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        weight = layer.weight
    assert norm._u.equal(before) and weight.dtype == torch.float32
    layer.train()
    layer.weight  # noqa: B018
    assert not norm._u.equal(before)


def test_the_normalised_weight_is_twice_differentiable():
    torch.manual_seed(1)
    critic = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    apply_spectral_norm(critic)
    x = torch.randn(5, 4, requires_grad=True)
    (gradient,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    gradient.pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for name, p in critic.named_parameters()
               if "weight" in name)


def _small() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 2))


def test_folded_holds_the_normalised_weights_as_plain_ones_and_draws_no_random_numbers():
    torch.manual_seed(2)
    network = _small()
    apply_spectral_norm(network)
    network.eval()
    rng = torch.get_rng_state()
    plain = folded(network, _small)
    assert torch.get_rng_state().equal(rng)
    assert not any(parametrize.is_parametrized(m) for m in plain.modules())
    assert set(plain.state_dict()) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    x = torch.randn(4, 3)
    torch.testing.assert_close(plain(x), network(x))
    assert parametrize.is_parametrized(network[0])  # the trained network keeps its parametrization
    network.train()
    network[0].weight  # noqa: B018 -- the trained network still works
    bare = nn.Linear(2, 2)
    assert folded(bare, _small) is bare


@pytest.mark.parametrize("choice, generator, discriminator", [("discriminator", False, True),
                                                               ("generator", True, False), ("both", True, True)])
def test_the_choice_picks_the_networks_and_generator_files_stay_plain(tmp_path, choice, generator, discriminator):
    out = tmp_path / "run"
    result = invoke("run", *IMAGES, "--loss", "hinge", "--steps", 2, "--spectral-norm", choice, "--out", out)
    assert result.exit_code == 0, result.output
    state = _keys(out / "checkpoints" / "state.safetensors")
    assert any(k.startswith("generator.") and k.endswith("._u") for k in state) == generator
    assert any(k.startswith("discriminator.") and k.endswith("._u") for k in state) == discriminator
    assert not any("parametrizations" in k for k in _keys(out / "checkpoints" / "generator.safetensors"))
    assert json.loads((out / "config.json").read_text())["config"]["spectral_norm"] == choice
    sampled = invoke("sample", out, "-n", 4, "-o", tmp_path / "samples.png")
    assert sampled.exit_code == 0, sampled.output


def test_spectral_norm_trains_with_a_gradient_penalty_and_bf16(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", *IMAGES, "--loss", "wgan-gp", "--steps", 2, "--spectral-norm", "both",
                    "--precision", "bf16", "--reg", "r1:gamma=1", "--reg", "gp", "--out", out)
    assert result.exit_code == 0, result.output
    assert all(r["penalty"] > 0 and r["d_loss"] == r["d_loss"] for r in read_metrics(out))


def test_resume_is_exact_with_spectral_norm(tmp_path):
    common = (*IMAGES, "--loss", "hinge", "--spectral-norm", "both", "--checkpoint-every", "100", "--seed", "3",
              "--steps", 4)
    straight, split = straight_and_resumed(common, 2, tmp_path)
    assert [r["d_loss"] for r in read_metrics(split)] == [r["d_loss"] for r in read_metrics(straight)]
    with safe_open(str(straight / "checkpoints" / "state.safetensors"), "pt") as a, \
            safe_open(str(split / "checkpoints" / "state.safetensors"), "pt") as b:
        assert all(a.get_tensor(key).equal(b.get_tensor(key)) for key in a.keys())  # noqa: SIM118


def test_an_unknown_choice_is_one_error_line(tmp_path):
    result = invoke("run", *IMAGES, "--loss", "hinge", "--spectral-norm", "critic", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "critic" in result.output and "discriminator" in result.output
    assert not (tmp_path / "run").exists()


def _normalised_mlp_plugin(default: str) -> types.ModuleType:
    """A plugin registering ``normalised-mlp``: the mlp with ``defaults = {"spectral_norm": default}``."""
    from ganzoo_plugins.architectures.mlp import MLPArchitecture

    class NormalisedMLP(MLPArchitecture):
        name = "normalised-mlp"
        defaults = {"spectral_norm": default}

    module = types.ModuleType("normalised_mlp")

    def register_architectures(register):
        register(NormalisedMLP())

    module.register_architectures = ganzoo.hookimpl(register_architectures)
    return module


@pytest.mark.parametrize("given, applied", [((), "discriminator"), (("--spectral-norm", "none"), "none"),
                                            (("--spectral-norm", "both"), "both")])
def test_an_architecture_default_applies_unless_the_user_overrides_it(tmp_path, given, applied):
    out = tmp_path / "run"
    result = invoke("run", "--arch", "normalised-mlp", "--loss", "hinge", "--data", "ring8", "--steps", 2,
                    "--batch-size", 16, *given, "--out", out, extra_plugins=[_normalised_mlp_plugin("discriminator")])
    assert result.exit_code == 0, result.output
    state = _keys(out / "checkpoints" / "state.safetensors")
    assert any(k.startswith("discriminator.") and k.endswith("._u") for k in state) == (applied != "none")
    assert any(k.startswith("generator.") and k.endswith("._u") for k in state) == (applied == "both")
    assert json.loads((out / "config.json").read_text())["resolved"]["spectral_norm"] == applied


def test_an_architecture_default_outside_the_choices_fails_its_registration():
    listing = invoke("list-plugins", "--json", extra_plugins=[_normalised_mlp_plugin("critic")])
    errors = [e for plugin in json.loads(listing.output) for e in plugin["errors"]]
    assert any("normalised-mlp" in e and "critic" in e and "discriminator" in e for e in errors), errors


def test_exempt_layers_and_everything_inside_them_keep_their_weights():
    inner = nn.Sequential(nn.Linear(3, 3), nn.Embedding(4, 3))
    network = nn.Sequential(nn.Linear(3, 3), ganzoo.exempt_from_spectral_norm(inner), nn.Conv2d(1, 1, 1))
    assert apply_spectral_norm(network) == 2
    assert parametrize.is_parametrized(network[0]) and parametrize.is_parametrized(network[2])
    assert not any(parametrize.is_parametrized(layer) for layer in inner)


def test_a_normalised_conditional_generator_keeps_its_per_class_gains_at_one(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "--arch", "cdcgan", "--data", "mnist-mini", "--arch-option", "base_width=8", "--loss",
                    "hinge", "--batch-size", 16, "--steps", 1, "--spectral-norm", "generator", "--out", out)
    assert result.exit_code == 0, result.output
    with safe_open(str(out / "checkpoints" / "state.safetensors"), "pt") as state:
        gains = [key for key in state.keys() if key.startswith("generator.") and key.endswith("gain.weight")]  # noqa: SIM118
        assert gains and all(state.get_tensor(key).abs().mean() > 0.5 for key in gains)  # ~1, not 1/sqrt(K*C)
        assert any(key.startswith("generator.") and key.endswith("._u") for key in state.keys())  # noqa: SIM118


def test_spectral_norm_of_a_network_without_torch_layers_is_one_error_line(tmp_path, colour_data):
    result = invoke("run", "--arch", "stylegan2", *colour_data, "--loss", "bce", "--steps", 1,
                    "--spectral-norm", "discriminator", "--out", tmp_path / "run")
    assert_one_line_error(result, "--spectral-norm", "discriminator of 'stylegan2'")
    assert not (tmp_path / "run").exists()
