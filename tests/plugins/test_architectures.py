"""Tests for the built-in architectures, obtained through their register hook."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo_plugins.architectures import dcgan, mlp

LATENT_DIM = 16
BATCH = 4
# Small widths keep the shape tests fast; default widths are checked separately.
SMALL_OPTIONS = {
    "mlp": {"generator_widths": (16, 32, 64), "discriminator_widths": (32, 16)},
    "dcgan": {"base_width": 8, "discriminator_batch_norm": True},
}
IMAGE_SHAPES = [(1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 64, 64)]
SHAPES = {"mlp": [*IMAGE_SHAPES, (2,), (5, 20, 12)], "dcgan": IMAGE_SHAPES}
CASES = [(name, shape) for name, shapes in SHAPES.items() for shape in shapes]


def registered(module) -> list[ganzoo.Architecture]:
    found: list[ganzoo.Architecture] = []
    module.register_architectures(register=found.append)
    return found


@pytest.fixture(scope="module")
def archs() -> dict[str, ganzoo.Architecture]:
    return {arch.name: arch for module in (mlp, dcgan) for arch in registered(module)}


def build(arch, shape, **overrides):
    options = {**arch.options, **SMALL_OPTIONS[arch.name], **overrides}
    return arch.build(ganzoo.DataSpec(shape), LATENT_DIM, **options)


def layers_of(net: nn.Module, kind) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, kind)]


def test_each_module_registers_one_architecture_with_its_options():
    (mlp_arch,) = registered(mlp)
    (dcgan_arch,) = registered(dcgan)
    assert isinstance(mlp_arch, ganzoo.Architecture) and mlp_arch.name == "mlp"
    assert isinstance(dcgan_arch, ganzoo.Architecture) and dcgan_arch.name == "dcgan"
    assert dict(mlp_arch.options) == {"generator_widths": (256, 512, 1024), "discriminator_widths": (512, 256)}
    assert dict(dcgan_arch.options) == {"base_width": "auto", "discriminator_batch_norm": True}
    assert not mlp_arch.conditional and not dcgan_arch.conditional
    assert mlp_arch.description and dcgan_arch.description


@pytest.mark.parametrize(("shape", "widths"), [((1, 28, 28), [256, 128, 64]), ((3, 32, 32), [512, 256, 128]),
                                               ((3, 64, 64), [512, 256, 128, 64])])
def test_dcgan_auto_width_is_the_reference_network_of_each_size(shape, widths):
    """32 pixels: the CIFAR-10 DCGAN of the classic loop and other zoos (512-256-128); 64: pytorch/examples'."""
    (dcgan_arch,) = registered(dcgan)
    generator, discriminator = dcgan_arch.build(ganzoo.DataSpec(shape), LATENT_DIM, **dcgan_arch.options)
    assert [m.out_channels for m in layers_of(generator, nn.ConvTranspose2d)][:-1] == widths
    assert [m.out_channels for m in layers_of(discriminator, nn.Conv2d)][:-1] == widths[::-1]
    narrow, _ = dcgan_arch.build(ganzoo.DataSpec(shape), LATENT_DIM, base_width="16")  # as --arch-option types it
    assert layers_of(narrow, nn.ConvTranspose2d)[-2].out_channels == 16


@pytest.mark.parametrize("bad", ["wide", "0", -8, True])
def test_dcgan_refuses_a_base_width_that_is_not_a_positive_int_or_auto(bad):
    (dcgan_arch,) = registered(dcgan)
    with pytest.raises(ganzoo.GanzooError, match="base_width must be a positive int or auto"):
        dcgan_arch.build(ganzoo.DataSpec((3, 32, 32)), LATENT_DIM, base_width=bad)


@pytest.mark.parametrize(("name", "shape"), CASES)
def test_generator_makes_samples_of_the_spec_shape_in_range(archs, name, shape):
    torch.manual_seed(0)
    generator, _ = build(archs[name], shape)
    fake = generator(torch.randn(BATCH, LATENT_DIM))
    assert fake.shape == (BATCH, *shape)
    assert fake.dtype == torch.float32
    assert fake.abs().max() <= 1.0
    assert fake.std() > 0  # not a constant output


@pytest.mark.parametrize(("name", "shape"), CASES)
def test_discriminator_returns_one_raw_logit_per_sample(archs, name, shape):
    torch.manual_seed(0)
    _, discriminator = build(archs[name], shape)
    assert not layers_of(discriminator, (nn.Sigmoid, nn.Tanh))
    # Blow up the last layer: raw logits leave (0, 1), a sigmoid could not.
    last = [m for m in discriminator.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    with torch.no_grad():
        last.weight.mul_(1000.0)
    logits = discriminator(torch.rand(BATCH, *shape) * 2 - 1)
    assert logits.shape == (BATCH,)
    assert logits.dtype == torch.float32
    assert ((logits < 0) | (logits > 1)).any()
    assert logits.std() > 0  # depends on the input


@pytest.mark.parametrize(("name", "shape"), CASES)
def test_gradients_flow_from_discriminator_into_generator(archs, name, shape):
    torch.manual_seed(0)
    generator, discriminator = build(archs[name], shape)
    discriminator(generator(torch.randn(BATCH, LATENT_DIM))).sum().backward()
    for param_name, param in generator.named_parameters():
        assert param.grad is not None, param_name
        assert torch.isfinite(param.grad).all(), param_name
        if param.dim() > 1:
            assert param.grad.abs().sum() > 0, param_name


@pytest.mark.parametrize(("name", "shape"), [("mlp", (1, 28, 28)), ("dcgan", (3, 64, 64))])
def test_default_options_build_working_networks(archs, name, shape):
    torch.manual_seed(0)
    arch = archs[name]
    generator, discriminator = arch.build(ganzoo.DataSpec(shape), 100, **arch.options)
    fake = generator(torch.randn(2, 100))
    assert fake.shape == (2, *shape)
    assert discriminator(fake).shape == (2,)


def test_mlp_layer_widths_follow_the_options_and_accept_lists(archs):
    generator, discriminator = archs["mlp"].build(
        ganzoo.DataSpec((3, 8, 8)), LATENT_DIM, generator_widths=[10, 20], discriminator_widths=[30, 40, 50]
    )
    g_linear = layers_of(generator, nn.Linear)
    d_linear = layers_of(discriminator, nn.Linear)
    assert [(m.in_features, m.out_features) for m in g_linear] == [(LATENT_DIM, 10), (10, 20), (20, 192)]
    assert [(m.in_features, m.out_features) for m in d_linear] == [(192, 30), (30, 40), (40, 50), (50, 1)]
    # BatchNorm on every generator hidden layer but the first; none in the discriminator.
    assert [m.num_features for m in layers_of(generator, nn.BatchNorm1d)] == [20]
    assert not layers_of(discriminator, nn.modules.batchnorm._BatchNorm)


def test_mlp_rejects_empty_widths(archs):
    with pytest.raises(ganzoo.GanzooError, match="generator_widths"):
        archs["mlp"].build(ganzoo.DataSpec((2,)), LATENT_DIM, generator_widths=())


def map_sizes(net: nn.Module, kind, x: torch.Tensor) -> list[tuple[int, ...]]:
    """The output shape (C, H, W) of each ``kind`` layer when ``net`` runs on ``x``."""
    sizes = []
    hooks = [m.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[1:]))) for m in layers_of(net, kind)]
    net(x)
    for hook in hooks:
        hook.remove()
    return sizes


@pytest.mark.parametrize(
    ("shape", "generator_sizes"),
    [
        ((1, 28, 28), [(32, 3, 3), (16, 7, 7), (8, 14, 14), (1, 28, 28)]),
        ((3, 32, 32), [(32, 4, 4), (16, 8, 8), (8, 16, 16), (3, 32, 32)]),
        ((3, 64, 64), [(64, 4, 4), (32, 8, 8), (16, 16, 16), (8, 32, 32), (3, 64, 64)]),
    ],
)
def test_dcgan_uses_the_layer_plan_of_the_image_size(archs, shape, generator_sizes):
    generator, discriminator = build(archs["dcgan"], shape)
    fake = generator(torch.randn(BATCH, LATENT_DIM))
    assert map_sizes(generator, nn.ConvTranspose2d, torch.randn(BATCH, LATENT_DIM)) == generator_sizes
    # The discriminator runs the plan backwards, ending on a 1x1 logit map.
    expected = [*generator_sizes[-2::-1], (1, 1, 1)]
    assert map_sizes(discriminator, nn.Conv2d, fake) == expected


def test_dcgan_32_is_not_the_64_stack(archs):
    gen_32, disc_32 = build(archs["dcgan"], (3, 32, 32))
    gen_64, disc_64 = build(archs["dcgan"], (3, 64, 64))
    assert len(layers_of(gen_32, nn.ConvTranspose2d)) == 4
    assert len(layers_of(disc_32, nn.Conv2d)) == 4
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(gen_32) != count(gen_64)
    assert count(disc_32) != count(disc_64)


@pytest.mark.parametrize("shape", [(3, 48, 48), (3, 32, 28), (2,), (1, 28, 28, 1)])
def test_dcgan_rejects_unsupported_shapes_naming_them(archs, shape):
    with pytest.raises(ganzoo.GanzooError) as error:
        archs["dcgan"].build(ganzoo.DataSpec(shape), LATENT_DIM, base_width=8, discriminator_batch_norm=True)
    message = str(error.value)
    assert str(shape) in message
    assert "28, 32 or 64" in message
    assert "\n" not in message


def test_dcgan_discriminator_batch_norm_skips_the_input_layer(archs):
    _, discriminator = build(archs["dcgan"], (3, 64, 64))
    layers = list(discriminator)
    assert isinstance(layers[0], nn.Conv2d) and isinstance(layers[1], nn.LeakyReLU)
    # Every hidden conv after the first is followed by BatchNorm: 3 of them for size 64.
    assert [m.num_features for m in layers_of(discriminator, nn.BatchNorm2d)] == [16, 32, 64]


def test_dcgan_without_discriminator_batch_norm_has_none(archs):
    generator, discriminator = build(archs["dcgan"], (3, 32, 32), discriminator_batch_norm=False)
    assert not layers_of(discriminator, nn.modules.batchnorm._BatchNorm)
    assert len(layers_of(generator, nn.BatchNorm2d)) == 3  # the generator keeps its own
    # Per-sample logits no longer depend on the rest of the batch (what WGAN-GP needs).
    x = torch.randn(BATCH, 3, 32, 32)
    torch.testing.assert_close(discriminator(x)[:1], discriminator(x[:1]))


def test_dcgan_initialises_weights_as_in_the_paper(archs):
    torch.manual_seed(0)
    arch = archs["dcgan"]
    generator, discriminator = arch.build(ganzoo.DataSpec((3, 64, 64)), 100, **arch.options)
    for net in (generator, discriminator):
        for conv in layers_of(net, (nn.Conv2d, nn.ConvTranspose2d)):
            assert conv.weight.std().item() == pytest.approx(0.02, rel=0.05)
            assert abs(conv.weight.mean().item()) < 0.002
            if conv.bias is not None:
                assert not conv.bias.any()
        norms = layers_of(net, nn.BatchNorm2d)
        scales = torch.cat([m.weight.detach() for m in norms])
        assert scales.mean().item() == pytest.approx(1.0, abs=0.005)
        assert scales.std().item() == pytest.approx(0.02, rel=0.15)
        assert not torch.cat([m.bias.detach() for m in norms]).any()
