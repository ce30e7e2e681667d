"""Tests for the ``stylegan2`` architectures: shapes, the reference's sizes, the layers' closed forms, the CLI."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import ganzoo
from ganzoo_plugins.architectures import stylegan2
from ganzoo_plugins.architectures.stylegan2.discriminator import MinibatchStd, group_size_for
from ganzoo_plugins.architectures.stylegan2.layers import (
    EqualConv2d,
    EqualLinear,
    blur,
    modulated_conv2d,
    modulated_weight,
    resample_filter,
    upsample_2x,
)
from tests.helpers import invoke, read_metrics, straight_and_resumed

LATENT_DIM = 16
BATCH = 4
#: Small widths keep these tests cheap: 8 feature maps at 16 px, 4 at 32, 2 at 64.
TINY = {"channel_base": 128, "channel_max": 8, "mapping_layers": 2, "w_dim": 12, "mbstd_group": 4}
CLI_NETS = ("--arch-option", "channel_base=128", "--arch-option", "channel_max=8", "--arch-option", "w_dim=16",
            "--latent-dim", "16", "--batch-size", "8", "--log-every", "1", "--threads", "1")
CLI_TINY = (*CLI_NETS, "--steps", "1")


def architectures() -> dict[str, ganzoo.Architecture]:
    found: list[ganzoo.Architecture] = []
    stylegan2.register_architectures(register=found.append)
    return {arch.name: arch for arch in found}


def build(shape, num_classes: int = 0, **overrides):
    arch = architectures()["stylegan2-conditional" if num_classes else "stylegan2"]
    spec = ganzoo.DataSpec(shape, num_classes=num_classes)
    return arch.build(spec, LATENT_DIM, **{**arch.options, **TINY, **overrides})


def test_registers_both_architectures_with_the_cifar_defaults_and_no_spectral_norm():
    archs = architectures()
    assert set(archs) == {"stylegan2", "stylegan2-conditional"}
    # stylegan2-ada-pytorch train.py, cfg_specs['cifar']: fmaps=1 (channel_base 32768), map=2, mbstd=32;
    # for cifar it sets style_mixing_prob=0 and D architecture 'orig'; z_dim = w_dim = 512, channel_max 512.
    expected = {"channel_base": 32768, "channel_max": 512, "mapping_layers": 2, "w_dim": 512,
                "d_architecture": "orig", "mbstd_group": 32, "style_mixing": 0.0}
    for arch in archs.values():
        assert dict(arch.options) == expected and not dict(arch.defaults) and arch.description
    assert not archs["stylegan2"].conditional and archs["stylegan2-conditional"].conditional


@pytest.mark.parametrize("shape", [(1, 16, 16), (3, 16, 16), (3, 32, 32), (1, 32, 32), (3, 64, 64), (1, 64, 64)])
@pytest.mark.parametrize("d_architecture", ["orig", "resnet"])
def test_output_shapes(shape, d_architecture):
    torch.manual_seed(0)
    generator, discriminator = build(shape, d_architecture=d_architecture)
    fake = generator(torch.randn(BATCH, LATENT_DIM))
    assert fake.shape == (BATCH, *shape) and fake.dtype == torch.float32 and fake.std() > 0
    logits = discriminator(fake)
    assert logits.shape == (BATCH,) and logits.dtype == torch.float32 and logits.std() > 0


def test_a_larger_power_of_two_builds_too():
    generator, discriminator = build((3, 128, 128), channel_base=256, channel_max=4)
    fake = generator(torch.randn(2, LATENT_DIM))
    assert fake.shape == (2, 3, 128, 128) and discriminator(fake).shape == (2,)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 16), (3, 8, 8), (3, 48, 48), (2,)])
def test_unsupported_shapes_are_one_error_naming_the_sizes(shape):
    with pytest.raises(ganzoo.GanzooError) as error:
        build(shape)
    message = str(error.value)
    assert str(shape) in message and "16, 32, 64, 128, 256, 512 or 1024" in message and "\n" not in message


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"d_architecture": "skip"}, "d_architecture"), ({"style_mixing": 1.5}, "style_mixing"),
    ({"channel_base": 0}, "channel_base"), ({"channel_base": 16}, "channel_base"), ({"mapping_layers": -1}, "mapping"),
])
def test_bad_options_are_one_error_naming_them(overrides, fragment):
    with pytest.raises(ganzoo.GanzooError, match=fragment):
        build((3, 32, 32), **overrides)


def count(network: torch.nn.Module) -> int:
    return sum(p.numel() for p in network.parameters())


@pytest.mark.parametrize(("num_classes", "d_architecture", "g_params", "d_params"), [
    (0, "orig", 19_947_539, 20_720_641),
    (0, "resnet", 19_947_539, 21_507_073),
    (10, "orig", 20_215_315, 23_089_664),
])
def test_parameter_counts_of_the_cifar_configuration_match_the_reference(num_classes, d_architecture, g_params,
                                                                         d_params):
    """The reference numbers: NVlabs/stylegan2-ada-pytorch (commit d72cc7d) training/networks.py, Generator(z_dim=512,
    c_dim, w_dim=512, img_resolution=32, img_channels=3, mapping_kwargs={num_layers: 2}, synthesis_kwargs=
    {channel_base: 32768, channel_max: 512}) and Discriminator(c_dim, 32, 3, architecture, channel_base=32768,
    channel_max=512, mbstd_group_size=32), i.e. train.py --cfg cifar (c_dim 10 with --cond 1), instantiated and
    counted with sum(p.numel() for p in net.parameters())."""
    arch = architectures()["stylegan2-conditional" if num_classes else "stylegan2"]
    spec = ganzoo.DataSpec((3, 32, 32), num_classes=num_classes)
    with torch.device("meta"):  # counts need no memory or initialisation
        generator, discriminator = arch.build(spec, 512, **{**arch.options, "d_architecture": d_architecture})
    assert (count(generator), count(discriminator)) == (g_params, d_params)
    # 512 feature maps at every resolution, 8 latents (2 per resolution 4..32), the 2-layer mapping.
    assert {b.conv1.weight.shape[0] for b in generator.synthesis.blocks} == {512} and generator.num_ws == 8


@pytest.mark.parametrize("up", [False, True])
@pytest.mark.parametrize("demodulate", [True, False])
def test_the_grouped_modulated_conv_matches_a_per_sample_computation(up, demodulate):
    """Closed form (the paper's eq. 1-3 applied to the activations): scale the input channels by the styles,
    convolve with the shared weight, then scale each output channel by 1 / ||w * s||, sample by sample."""
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 5, 8, 8), torch.randn(6, 5, 3, 3), torch.randn(3, 5)
    kernel = resample_filter()
    out = modulated_conv2d(x, weight, styles, demodulate=demodulate, up=up, kernel=kernel)
    assert out.shape == (3, 6, 16 if up else 8, 16 if up else 8)
    for i in range(3):
        xi = x[i:i + 1] * styles[i].reshape(1, -1, 1, 1)
        if up:
            yi = blur(F.conv_transpose2d(xi, weight.transpose(0, 1), stride=2), kernel, pad=1, gain=4.0)
        else:
            yi = F.conv2d(xi, weight, padding=1)
        if demodulate:
            yi = yi / (weight * styles[i].reshape(1, -1, 1, 1)).square().sum(dim=(1, 2, 3)).sqrt().reshape(1, -1, 1, 1)
        torch.testing.assert_close(out[i:i + 1], yi, rtol=1e-4, atol=1e-5)


def test_demodulation_gives_unit_norm_output_weights():
    torch.manual_seed(1)
    weights = modulated_weight(torch.randn(7, 4, 3, 3) * 5, torch.rand(2, 4) * 3)
    norms = weights.square().sum(dim=(2, 3, 4)).sqrt()
    torch.testing.assert_close(norms, torch.ones(2, 7))
    plain = modulated_weight(torch.ones(1, 2, 1, 1), torch.tensor([[2.0, 3.0]]), demodulate=False)
    assert plain.flatten().tolist() == [2.0, 3.0]


def test_resampling_keeps_a_constant_image_constant_and_halves_or_doubles_the_size():
    kernel = resample_filter()
    assert kernel.sum().item() == pytest.approx(1.0) and kernel.shape == (4, 4)
    image = torch.full((1, 2, 8, 8), 3.0)
    up = upsample_2x(image, kernel)
    assert up.shape == (1, 2, 16, 16)
    torch.testing.assert_close(up[..., 2:-2, 2:-2], torch.full((1, 2, 12, 12), 3.0))  # zero padding at the border
    down = EqualConv2d(2, 2, 3, down=True)(image)
    assert down.shape == (1, 2, 4, 4)


def test_equalised_lr_runtime_scale_is_one_over_sqrt_fan_in():
    torch.manual_seed(2)
    linear, conv = EqualLinear(20, 3), EqualConv2d(6, 4, 3)
    assert linear.weight_gain == pytest.approx(1 / math.sqrt(20))
    assert conv.weight_gain == pytest.approx(1 / math.sqrt(6 * 3 * 3))
    x = torch.randn(5, 20)
    torch.testing.assert_close(linear(x), x @ (linear.weight / math.sqrt(20)).T + linear.bias)
    # The stored weights are N(0, 1); the mapping layers store N(0, 1/0.01^2) and scale by 0.01 / sqrt(fan_in).
    generator, _ = build((3, 32, 32), w_dim=64, channel_max=64)
    layer = generator.mapping.layers[1]
    assert layer.weight_gain == pytest.approx(0.01 / math.sqrt(64)) and layer.bias_gain == 0.01
    assert layer.weight.std().item() == pytest.approx(100.0, rel=0.1)
    conv1 = generator.synthesis.blocks[0].conv1
    assert conv1.weight.std().item() == pytest.approx(1.0, rel=0.1)
    torgb = generator.synthesis.blocks[-1].torgb
    assert torgb.weight_gain == pytest.approx(1 / math.sqrt(torgb.weight.shape[1]))
    # Style affines start with bias 1 (styles near 1); other biases and the noise strengths at 0.
    assert conv1.affine.bias.eq(1).all() and not conv1.bias.any() and conv1.noise_strength.item() == 0


def test_w_avg_moves_in_training_mode_only():
    torch.manual_seed(3)
    generator, _ = build((3, 16, 16))
    z = torch.randn(BATCH, LATENT_DIM)
    generator.eval()
    generator(z)
    assert not generator.mapping.w_avg.any()
    generator.train()
    w = generator.mapping(z, update_w_avg=False)[:, 0]
    generator(z)
    torch.testing.assert_close(generator.mapping.w_avg, w.mean(dim=0) * (1 - 0.995))


def test_truncation_psi_zero_gives_w_avg_for_every_sample_and_one_is_the_identity():
    torch.manual_seed(4)
    generator, _ = build((3, 16, 16))
    generator.train()
    for _ in range(3):
        generator(torch.randn(8, LATENT_DIM))  # a non-zero average
    generator.eval()
    z = torch.randn(BATCH, LATENT_DIM)
    w_avg = generator.mapping.w_avg
    truncated = generator.mapping(z, truncation_psi=0.0)
    torch.testing.assert_close(truncated, w_avg.expand_as(truncated))
    torch.testing.assert_close(generator.mapping(z, truncation_psi=0.5),
                               w_avg.lerp(generator.mapping(z), 0.5))
    assert generator.truncation_psi == 1.0
    torch.manual_seed(0)
    plain = generator(z)
    torch.manual_seed(0)
    torch.testing.assert_close(plain, generator.synthesis(generator.mapping(z)))
    generator.truncation_psi = 0.0
    images = generator(z)  # the noise strengths start at 0, so every sample is the same image
    torch.testing.assert_close(images, images[:1].expand_as(images))


def test_style_mixing_probability_zero_is_deterministic_and_one_mixes():
    torch.manual_seed(5)
    generator, _ = build((3, 16, 16), style_mixing=0.0)
    generator.train()
    z = torch.randn(BATCH, LATENT_DIM)
    torch.manual_seed(7)
    first = generator(z)
    after = torch.get_rng_state()
    generator.eval()
    torch.manual_seed(7)
    torch.testing.assert_close(generator(z), first)  # training mode drew nothing beyond the noise
    assert torch.get_rng_state().equal(after)
    generator.style_mixing = 1.0
    generator.train()
    seen = []
    generator.synthesis.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    generator(z)
    (ws,) = seen
    own = generator.mapping(z, update_w_avg=False)
    crossed = [not torch.allclose(ws[:, k], own[:, k]) for k in range(generator.num_ws)]
    cutoff = crossed.index(True)
    assert 1 <= cutoff < generator.num_ws and all(crossed[cutoff:]) and not any(crossed[:cutoff])


@pytest.mark.parametrize(("batch", "group", "expected"), [(8, 32, 8), (8, 4, 4), (6, 4, 3), (7, 4, 1)])
def test_minibatch_std_groups_divide_the_batch(batch, group, expected):
    assert group_size_for(batch, group) == expected
    x = torch.randn(batch, 3, 4, 4)
    out = MinibatchStd(group)(x)
    assert out.shape == (batch, 4, 4, 4) and out[:, :3].equal(x)
    # Sample i joins group i mod (N/G): with one group, every sample sees the whole batch's std.
    whole = (x.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
    if expected == batch:
        torch.testing.assert_close(out[:, 3], whole.expand(batch, 4, 4))


@pytest.mark.parametrize("d_architecture", ["orig", "resnet"])
def test_the_discriminator_is_twice_differentiable_and_runs_in_bf16(d_architecture):
    torch.manual_seed(6)
    generator, discriminator = build((3, 16, 16), d_architecture=d_architecture)
    real = torch.randn(BATCH, 3, 16, 16, requires_grad=True)
    (gradient,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)
    gradient.square().sum().backward()
    weights = [p for p in discriminator.parameters() if p.dim() > 1]  # the last bias does not move the gradient
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in weights)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fake = generator(torch.randn(BATCH, LATENT_DIM))
        logits = discriminator(fake)
    assert fake.dtype == logits.dtype == torch.float32 and torch.isfinite(logits).all()


def test_the_conditional_networks_read_the_labels():
    torch.manual_seed(8)
    generator, discriminator = build((3, 16, 16), num_classes=10)
    generator.eval()
    z, labels = torch.randn(BATCH, LATENT_DIM), torch.tensor([0, 1, 2, 3])
    torch.manual_seed(0)
    first = generator(z, labels)
    torch.manual_seed(0)
    assert not torch.allclose(first, generator(z, labels.flip(0)))
    logits = discriminator(first, labels)
    assert logits.shape == (BATCH,) and not torch.allclose(logits, discriminator(first, labels.flip(0)))
    with pytest.raises(ganzoo.GanzooError, match="class-conditional"):
        architectures()["stylegan2-conditional"].build(ganzoo.DataSpec((3, 16, 16)), LATENT_DIM, **TINY)


@pytest.mark.parametrize("extra", [(), ("--precision", "bf16"), ("--ema", "0.9"), ("--reg", "r1:gamma=0.01")],
                         ids=["fp32", "bf16", "ema", "r1"])
def test_one_cli_training_step_then_sampling(tmp_path, colour_data, extra):
    out = tmp_path / "run"
    result = invoke("run", "--arch", "stylegan2", "--loss", "bce", *colour_data, *CLI_TINY, *extra, "--out", out)
    assert result.exit_code == 0, result.output
    (record,) = read_metrics(out)
    assert math.isfinite(record["d_loss"]) and math.isfinite(record["g_loss"])
    assert (record["penalty"] > 0) == ("--reg" in extra)
    sampled = invoke("sample", out, "-n", 4, "-o", tmp_path / "out.png")
    assert sampled.exit_code == 0, sampled.output
    assert (tmp_path / "out.png").is_file()


def test_one_cli_training_step_of_the_conditional_architecture(tmp_path, colour_data):
    out = tmp_path / "run"
    result = invoke("run", "--arch", "stylegan2-conditional", "--loss", "bce", *colour_data, *CLI_TINY,
                    "--arch-option", "d_architecture=resnet", "--arch-option", "style_mixing=0.9", "--out", out)
    assert result.exit_code == 0, result.output


def test_resume_is_exact_with_style_mixing(tmp_path, colour_data):
    """Style mixing and the noise inputs draw from torch's global RNG, which checkpoints restore."""
    common = ("--arch", "stylegan2", "--loss", "bce", *colour_data, *CLI_NETS, "--steps", 4, "--arch-option", "style_mixing=0.9", "--checkpoint-every", 100, "--seed", 3)
    straight, split = straight_and_resumed(common, 2, tmp_path)
    assert [r["d_loss"] for r in read_metrics(split)] == [r["d_loss"] for r in read_metrics(straight)]
