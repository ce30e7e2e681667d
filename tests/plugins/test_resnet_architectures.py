"""The SNGAN / SAGAN ResNets, the standard CNN and their blocks: shapes, reference sizes, errors, spectral norm."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

import ganzoo
from ganzoo.training.spectral_norm import apply_spectral_norm
from ganzoo_plugins.architectures import sagan, sngan, standard_cnn
from ganzoo_plugins.architectures.blocks.attention import SelfAttention
from ganzoo_plugins.architectures.blocks.residual import (
    DiscriminatorBlock,
    GeneratorBlock,
    OptimizedDiscriminatorBlock,
)
from ganzoo_plugins.architectures.conditioning import ConditionalBatchNorm2d

LATENT_DIM = 16
BATCH = 4
CLASSES = 3
SIZES = {"sngan": (32, 48, 64), "sngan-projection": (32, 48, 64), "sagan": (32, 48, 64),
         "sagan-unconditional": (32, 48, 64), "standard-cnn": (32, 48, 64)}
# The smallest widths each size allows with self-attention (8 channels where it sits).
TINY_RESNET = {32: {"generator_width": "16", "discriminator_width": "16"},
               48: {"generator_width": "32", "discriminator_width": "128"},
               64: {"generator_width": "64", "discriminator_width": "128"}}
CASES = [(name, size) for name, sizes in SIZES.items() for size in sizes]


def _registered() -> dict[str, ganzoo.Architecture]:
    found: list[ganzoo.Architecture] = []
    for module in (sngan, sagan, standard_cnn):
        module.register_architectures(register=found.append)
    return {arch.name: arch for arch in found}


ARCHS = _registered()


def tiny(name: str, size: int, channels: int = 3):
    arch = ARCHS[name]
    options = {"base_width": 4} if name == "standard-cnn" else TINY_RESNET[size]
    spec = ganzoo.DataSpec((channels, size, size), CLASSES if arch.conditional else 0)
    return arch, arch.build(spec, LATENT_DIM, **{**arch.options, **options})


def generate(arch, generator, z, labels):
    return generator(z, labels) if arch.conditional else generator(z)


def discriminate(arch, discriminator, x, labels):
    return discriminator(x, labels) if arch.conditional else discriminator(x)


def params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_every_module_registers_its_architectures_with_the_engine_applied_spectral_norm():
    assert sorted(ARCHS) == ["sagan", "sagan-unconditional", "sngan", "sngan-projection", "standard-cnn"]
    assert {name: arch.defaults["spectral_norm"] for name, arch in ARCHS.items()} == {
        "sngan": "discriminator", "sngan-projection": "discriminator", "standard-cnn": "discriminator",
        "sagan": "both", "sagan-unconditional": "both"}
    assert [name for name, arch in ARCHS.items() if arch.conditional] == ["sngan-projection", "sagan"]
    assert all(arch.description for arch in ARCHS.values())
    for _, (generator, discriminator) in (tiny(name, 32) for name in ARCHS):  # nothing wraps its own layers
        assert not any(parametrize.is_parametrized(m) for m in [*generator.modules(), *discriminator.modules()])


@pytest.mark.parametrize(("name", "size"), CASES)
def test_shapes_range_logits_and_gradients_at_every_supported_size(name, size):
    torch.manual_seed(0)
    arch, (generator, discriminator) = tiny(name, size)
    labels = torch.arange(BATCH) % CLASSES
    fake = generate(arch, generator, torch.randn(BATCH, LATENT_DIM), labels)
    assert fake.shape == (BATCH, 3, size, size) and fake.dtype == torch.float32
    assert fake.abs().max() <= 1.0 and fake.std() > 0
    assert not any(isinstance(m, (nn.Sigmoid, nn.Tanh)) for m in discriminator.modules())
    logits = discriminate(arch, discriminator, fake, labels)
    assert logits.shape == (BATCH,) and logits.std() > 0
    logits.sum().backward()
    for param_name, param in generator.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), param_name


@pytest.mark.parametrize("name", ["sngan", "sagan", "standard-cnn"])
def test_grayscale_images_work_too(name):
    arch, (generator, discriminator) = tiny(name, 32, channels=1)
    labels = torch.zeros(2, dtype=torch.long)
    fake = generate(arch, generator, torch.randn(2, LATENT_DIM), labels)
    assert fake.shape == (2, 1, 32, 32)
    assert discriminate(arch, discriminator, fake, labels).shape == (2,)


# Reference sizes, counted from the authors' layer lists (weights + biases + batch-norm scales and shifts):
# SNGAN 32 px, pfnet-research/sngan_projection gen_models/resnet_32.py (ch=256, dim_z=128): linear 128 -> 4*4*256
# 528,384; three upsampling blocks of 2 convs 3x3 + a 1x1 shortcut + 2 BN, 1,246,976 each; BN 512; conv 256 -> 3
# 6,915: 4,276,739 (the "4.3M" SNGAN generator). dis_models/snresnet_32.py (ch=128): optimized block 151,680,
# downsampling block 311,680, two plain blocks 295,168 each, linear 128 -> 1: 1,053,824 without a bias there
# (nobias=True), 1,053,825 with mimicry's bias, which ganzoo keeps (the "1.0M" discriminator).
# Standard CNN 32 px (Miyato et al. 2018 Table 3; mimicry sndcgan_32.py, with biases): G 3,812,355, D 2,935,873.
REFERENCE_PARAMS = [
    ("sngan", 32, 4_276_739, 1_053_825),
    ("sngan", 48, 4_878_083, 10_141_441),  # mimicry sngan_48.py: G from 512 x 6 x 6, D 64 ... 1024
    ("sngan", 64, 12_220_675, 10_141_441),  # sngan_projection resnet_64.py / snresnet_64.py, ch=64, no classes
    ("standard-cnn", 32, 3_812_355, 2_935_873),
    ("standard-cnn", 48, 5_133_315, 2_946_113),  # the 48-px linear layers: 128 -> 6*6*512, 6*6*512 -> 1
]


@pytest.mark.parametrize(("name", "size", "g_params", "d_params"), REFERENCE_PARAMS)
def test_reference_configuration_has_the_reference_parameter_count(name, size, g_params, d_params):
    arch = ARCHS[name]
    generator, discriminator = arch.build(ganzoo.DataSpec((3, size, size)), 128, **arch.options)
    assert (params(generator), params(discriminator)) == (g_params, d_params)


def test_conditioning_and_attention_add_exactly_their_layers_at_the_cifar_size():
    spec = ganzoo.DataSpec((3, 32, 32), 10)
    g_plain, d_plain = ARCHS["sngan"].build(spec, 128, **WIDTHS_AUTO)
    g_proj, d_proj = ARCHS["sngan-projection"].build(spec, 128, **WIDTHS_AUTO)
    g_sa, d_sa = ARCHS["sagan"].build(spec, 128, **WIDTHS_AUTO)
    # Six conditional BNs of 256 channels trade 2 * 256 affine parameters for 2 * 10 * 256 per-class ones.
    assert params(g_proj) - params(g_plain) == 6 * 2 * 256 * (10 - 1)
    assert params(d_proj) - params(d_plain) == 10 * 128  # the projection embedding
    # One attention block per network: 1x1 convs C -> C/8 (twice), C -> C/2, C/2 -> C, and gamma.
    assert params(g_sa) - params(g_proj) == 2 * 256 * 32 + 256 * 128 + 128 * 256 + 1
    assert params(d_sa) - params(d_proj) == 2 * 128 * 16 + 128 * 64 + 64 * 128 + 1
    attention_g = [m for m in g_sa.modules() if isinstance(m, SelfAttention)]
    assert len(attention_g) == 1 and g_sa.attention_after == 2  # after the second block: 16 x 16
    assert isinstance(d_sa.body[1], SelfAttention)  # after the optimized block: 16 x 16


WIDTHS_AUTO = {"generator_width": "auto", "discriminator_width": "auto"}


@pytest.mark.parametrize("name", sorted(SIZES))
@pytest.mark.parametrize("shape", [(3, 28, 28), (3, 128, 128), (3, 32, 48), (2,)])
def test_an_unsupported_shape_names_the_supported_sizes(name, shape):
    arch = ARCHS[name]
    with pytest.raises(ganzoo.GanzooError, match=r"supports square images of size 32, 48 or 64; got shape"):
        arch.build(ganzoo.DataSpec(shape, CLASSES if arch.conditional else 0), LATENT_DIM, **arch.options)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("generator_width", "wide", "generator_width must be a positive int or auto"),
    ("discriminator_width", "0", "discriminator_width must be a positive int or auto"),
    ("discriminator_width", True, "discriminator_width must be a positive int or auto"),
    ("generator_width", "-8", "generator_width must be a positive int or auto"),
])
def test_a_bad_width_is_one_error(option, value, message):
    with pytest.raises(ganzoo.GanzooError, match=message):
        ARCHS["sngan"].build(ganzoo.DataSpec((3, 32, 32)), LATENT_DIM, **{**WIDTHS_AUTO, option: value})


def test_widths_that_the_halving_layout_cannot_divide_or_attention_cannot_use_are_refused():
    with pytest.raises(ganzoo.GanzooError, match="discriminator_width must be a positive multiple of 16"):
        ARCHS["sngan"].build(ganzoo.DataSpec((3, 64, 64)), LATENT_DIM, generator_width="64", discriminator_width="40")
    with pytest.raises(ganzoo.GanzooError, match="self-attention needs at least 8 channels"):
        ARCHS["sagan-unconditional"].build(ganzoo.DataSpec((3, 32, 32)), LATENT_DIM, generator_width="4",
                                           discriminator_width="16")
    with pytest.raises(ganzoo.GanzooError, match="base_width must be a positive int"):
        ARCHS["standard-cnn"].build(ganzoo.DataSpec((3, 32, 32)), LATENT_DIM, base_width=0)


@pytest.mark.parametrize("name", ["sngan-projection", "sagan"])
def test_conditional_architectures_need_labelled_data(name):
    with pytest.raises(ganzoo.GanzooError, match="class-conditional"):
        ARCHS[name].build(ganzoo.DataSpec((3, 32, 32)), LATENT_DIM, **TINY_RESNET[32])


def test_standard_cnn_matches_table_3_of_the_paper():
    generator, discriminator = ARCHS["standard-cnn"].build(ganzoo.DataSpec((3, 48, 48)), 128, base_width=64)
    convs = [m for m in discriminator if isinstance(m, nn.Conv2d)]
    assert [(m.out_channels, m.kernel_size[0], m.stride[0]) for m in convs] == [
        (64, 3, 1), (64, 4, 2), (128, 3, 1), (128, 4, 2), (256, 3, 1), (256, 4, 2), (512, 3, 1)]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules())  # SN replaces it
    assert {m.negative_slope for m in discriminator if isinstance(m, nn.LeakyReLU)} == {0.1}
    assert generator[0].out_features == 6 * 6 * 512  # M_g = 6 at 48 px
    assert [m.out_channels for m in generator if isinstance(m, nn.ConvTranspose2d)] == [256, 128, 64]


def test_generator_block_upsamples_and_conditions_on_the_labels():
    torch.manual_seed(0)
    block = GeneratorBlock(8, 4, upsample=True, num_classes=2)
    assert isinstance(block.norm1, ConditionalBatchNorm2d) and block.shortcut is not None
    with torch.no_grad():
        block.norm1.gain.weight[1].mul_(3.0)
    x = torch.randn(4, 8, 5, 5)
    out = block(x, torch.tensor([0, 0, 0, 0]))
    assert out.shape == (4, 4, 10, 10)
    assert not torch.allclose(out, block(x, torch.tensor([1, 1, 1, 1])))
    assert GeneratorBlock(8, 8, upsample=False).shortcut is None  # identity shortcut


def test_discriminator_blocks_halve_the_map_and_keep_an_identity_shortcut_when_they_can():
    x = torch.randn(2, 3, 8, 8)
    assert OptimizedDiscriminatorBlock(3, 8)(x).shape == (2, 8, 4, 4)
    assert DiscriminatorBlock(3, 8, downsample=True)(x).shape == (2, 8, 4, 4)
    plain = DiscriminatorBlock(3, 3, downsample=False)
    assert plain.shortcut is None and plain(x).shape == x.shape
    assert DiscriminatorBlock(3, 8, downsample=False).conv1.out_channels == 3  # hidden width = input width


def test_self_attention_starts_as_the_identity_and_mixes_positions_once_gamma_moves():
    torch.manual_seed(0)
    block = SelfAttention(16)
    assert [block.theta.out_channels, block.phi.out_channels, block.g.out_channels] == [2, 2, 8]
    x = torch.randn(2, 16, 6, 6)
    assert torch.equal(block(x), x)  # gamma starts at 0
    with torch.no_grad():
        block.gamma.fill_(1.0)
    y = x.clone()
    y[:, :, 0, 0] += 5.0  # one position changes ...
    assert not torch.allclose(block(y)[:, :, 5, 5], block(x)[:, :, 5, 5])  # ... and a far one sees it
    with pytest.raises(ValueError, match="at least 8 channels"):
        SelfAttention(4)


def test_spectral_norm_leaves_the_class_gains_and_normalises_the_projection_embedding():
    _, (generator, discriminator) = tiny("sagan", 32)
    apply_spectral_norm(generator)
    apply_spectral_norm(discriminator)
    norms = [m for m in generator.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert norms and not any(parametrize.is_parametrized(m.gain) or parametrize.is_parametrized(m.bias)
                             for m in norms)
    assert parametrize.is_parametrized(discriminator.head.embedding)
    assert parametrize.is_parametrized(generator.attention.theta)
