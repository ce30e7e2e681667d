"""The BigGAN architectures: shapes, reference sizes, initialisation, the hierarchical latent, spectral norm, CLI runs."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

import ganzoo
from ganzoo.training.spectral_norm import apply_spectral_norm
from ganzoo_plugins.architectures import biggan
from ganzoo_plugins.architectures.blocks.attention import SelfAttention
from ganzoo_plugins.architectures.blocks.biggan_blocks import LatentConditionalBatchNorm2d
from tests.helpers import assert_normalised_run_trains_and_samples, checkpoint_keys, invoke

CLASSES = 3
BATCH = 4
LATENT_DIM = 20  # 4 chunks of 5 at 32 px, 5 chunks of 4 at 64 px
# The narrowest widths each size allows with self-attention at the reference place (8 channels there).
TINY = {32: {"generator_width": "16", "discriminator_width": "8"},
        64: {"generator_width": "128", "discriminator_width": "128"}}


def _registered() -> dict[str, ganzoo.Architecture]:
    found: list[ganzoo.Architecture] = []
    biggan.register_architectures(register=found.append)
    return {arch.name: arch for arch in found}


ARCHS = _registered()

def build(name: str, size: int, classes: int = CLASSES, latent_dim: int = LATENT_DIM, **overrides):
    arch = ARCHS[name]
    spec = ganzoo.DataSpec((3, size, size), classes if arch.conditional else 0)
    return arch.build(spec, latent_dim, **{**arch.options, **TINY[size], **overrides})


def params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_the_module_registers_both_variants_with_their_options_and_spectral_norm_in_both_networks():
    assert set(ARCHS) == {"biggan", "biggan-unconditional"}
    conditional, unconditional = ARCHS["biggan"], ARCHS["biggan-unconditional"]
    assert conditional.conditional and not unconditional.conditional
    assert dict(conditional.options) == {"generator_width": "auto", "discriminator_width": "auto", "shared_dim": 128,
                                         "attention": "auto"}
    assert "shared_dim" not in unconditional.options
    assert conditional.defaults == unconditional.defaults == {"spectral_norm": "both"}


@pytest.mark.parametrize("name", ["biggan", "biggan-unconditional"])
@pytest.mark.parametrize("size", [32, 64])
def test_the_networks_map_z_and_labels_to_images_and_images_to_one_logit_each(name, size):
    torch.manual_seed(0)
    generator, discriminator = build(name, size)
    z, labels = torch.randn(BATCH, LATENT_DIM), torch.randint(0, CLASSES, (BATCH,))
    fake = generator(z, labels) if ARCHS[name].conditional else generator(z)
    assert fake.shape == (BATCH, 3, size, size) and fake.abs().max() <= 1
    logits = discriminator(fake, labels) if ARCHS[name].conditional else discriminator(fake)
    assert logits.shape == (BATCH,)
    logits.sum().backward()
    assert all(p.grad is not None for p in discriminator.parameters())


def test_the_cifar_configuration_has_the_reference_parameter_counts_and_layout():
    # StudioGAN's CIFAR-10 BigGAN (src/configs/CIFAR10/BigGAN.yaml: z_dim 80, shared 128, conv dims 96, attention
    # after G block 2 and D block 1) prints "Number of parameters: 9416196" for G and 2415170 for D in its training
    # log, logs/CIFAR10/BigGAN-train-2021_01_15_14_48_48.log. Built on the meta device: no memory, no init cost.
    with torch.device("meta"):
        generator, discriminator = ARCHS["biggan"].build(ganzoo.DataSpec((3, 32, 32), 10), 80, **ARCHS["biggan"].options)
    assert (params(generator), params(discriminator)) == (9_416_196, 2_415_170)
    assert {m.out_channels for m in generator.blocks.modules() if isinstance(m, nn.Conv2d)} == {384}
    assert generator.linear.in_features == 20 and generator.blocks[0].norm1.gain.in_features == 128 + 20
    assert generator.attention_after == 2 and generator.attention.theta.in_channels == 384  # after the 16 x 16 block
    assert isinstance(discriminator.body[1], SelfAttention) and discriminator.body[1].theta.in_channels == 192


def test_the_64_pixel_configuration_has_the_reference_parameter_counts():
    # StudioGAN's 64-px BigGAN on Tiny ImageNet (200 classes, z_dim 100, shared 128, conv dims 80, attention after
    # G block 3 and D block 1): G 17335204 and D 30796722 parameters, logs/TINY_IMAGENET/BigGAN-train-2021_01_18_11_42_25.log.
    with torch.device("meta"):
        generator, discriminator = ARCHS["biggan"].build(ganzoo.DataSpec((3, 64, 64), 200), 100,
                                                         **ARCHS["biggan"].options)
    assert (params(generator), params(discriminator)) == (17_335_204, 30_796_722)


def test_every_linear_convolution_and_embedding_starts_orthogonal_with_zero_bias():
    torch.manual_seed(1)
    for network in build("biggan", 32):
        layers = [m for m in network.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
        assert len(layers) > 10
        for layer in layers:
            matrix = layer.weight.detach().flatten(1).double()
            gram = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
            torch.testing.assert_close(gram, torch.eye(len(gram), dtype=torch.float64), atol=1e-5, rtol=0)
            if getattr(layer, "bias", None) is not None:
                assert not layer.bias.any()


def _block_io(generator, z, labels):
    """The linear layer's output, each block's conditioning vector and each block's output for one pass."""
    seen = {"blocks": [], "conditions": []}
    hooks = [generator.linear.register_forward_hook(lambda m, i, o: seen.__setitem__("linear", o))]
    for block in generator.blocks:
        hooks.append(block.register_forward_hook(lambda m, i, o: seen["blocks"].append(o)))
        hooks.append(block.norm1.register_forward_hook(lambda m, i, o: seen["conditions"].append(i[1])))
    with torch.no_grad():
        generator(z, labels)
    for hook in hooks:
        hook.remove()
    return seen


def test_each_chunk_of_z_reaches_only_its_own_stage():
    torch.manual_seed(2)
    generator, _ = build("biggan", 32)
    generator.eval()
    z, labels = torch.randn(BATCH, LATENT_DIM), torch.randint(0, CLASSES, (BATCH,))
    base = _block_io(generator, z, labels)
    chunks = torch.split(z, 5, dim=1)
    for index, condition in enumerate(base["conditions"]):  # block k's batch norms read [shared(y), z_(k+1)]
        torch.testing.assert_close(condition, torch.cat([generator.shared(labels), chunks[index + 1]], dim=1))
    changed = z.clone()
    changed[:, :5] += 1  # the first chunk: the linear layer's input
    assert not torch.equal(_block_io(generator, changed, labels)["linear"], base["linear"])
    changed = z.clone()
    changed[:, 10:15] += 1  # the third chunk: drives block 2 only
    seen = _block_io(generator, changed, labels)
    assert torch.equal(seen["linear"], base["linear"]) and torch.equal(seen["blocks"][0], base["blocks"][0])
    assert not torch.equal(seen["blocks"][1], base["blocks"][1])


def test_spectral_norm_leaves_the_shared_embedding_alone_and_normalises_the_batch_norm_maps():
    generator, discriminator = build("biggan", 32)
    apply_spectral_norm(generator)
    apply_spectral_norm(discriminator)
    assert not parametrize.is_parametrized(generator.shared)
    norms = [m for m in generator.modules() if isinstance(m, LatentConditionalBatchNorm2d)]
    assert norms and all(parametrize.is_parametrized(m.gain) and parametrize.is_parametrized(m.bias) for m in norms)
    assert parametrize.is_parametrized(generator.linear) and parametrize.is_parametrized(generator.output)
    assert parametrize.is_parametrized(discriminator.head.embedding)  # the projection embedding is normalised


def test_the_attention_option_moves_or_removes_the_block():
    generator, discriminator = build("biggan", 32, attention="0")
    assert generator.attention is None and not any(isinstance(m, SelfAttention) for m in discriminator.modules())
    generator, discriminator = build("biggan", 32, attention="8")  # after G's first block and D's second
    assert generator.attention_after == 1 and isinstance(discriminator.body[2], SelfAttention)


@pytest.mark.parametrize(("shape", "latent_dim", "overrides", "fragment"), [
    ((3, 48, 48), 20, {}, "supports square images of size 32 or 64"),
    ((3, 32, 32), 22, {}, "latent_dim must be a multiple of 4, such as the reference's 80 or the nearest, 20 and 24"),
    ((3, 64, 64), 22, {}, "latent_dim must be a multiple of 5, such as the reference's 100 or the nearest, 20 and 25"),
    ((3, 32, 32), 20, {"attention": "32"}, "a feature-map side both networks have at 32 px (8, 16)"),
    ((3, 32, 32), 20, {"discriminator_width": "4"}, "self-attention needs at least 8 channels"),
    ((3, 64, 64), 20, {"generator_width": "40"}, "generator_width must be a positive multiple of 16"),
    ((3, 32, 32), 20, {"shared_dim": "none"}, "shared_dim must be a positive int"),
])
def test_unsupported_settings_are_one_line_errors_naming_what_is_valid(shape, latent_dim, overrides, fragment):
    arch = ARCHS["biggan"]
    with pytest.raises(ganzoo.GanzooError, match="^biggan") as error:
        arch.build(ganzoo.DataSpec(shape, CLASSES), latent_dim, **{**arch.options, **TINY[32], **overrides})
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_the_conditional_variant_needs_labels():
    with pytest.raises(ganzoo.GanzooError, match="biggan is class-conditional"):
        ARCHS["biggan"].build(ganzoo.DataSpec((3, 32, 32)), LATENT_DIM, **ARCHS["biggan"].options)


RUNS = [("biggan", ()), ("biggan", ("--precision", "bf16")), ("biggan", ("--ema", "0.9")), ("biggan", ("--reg", "r1")),
        ("biggan-unconditional", ())]


@pytest.mark.parametrize(("arch", "extra"), RUNS, ids=[f"{a}-{'_'.join(e) or 'plain'}" for a, e in RUNS])
def test_one_training_step_with_the_default_spectral_norm_then_sampling(tmp_path, colour_data, arch, extra):
    out = tmp_path / "run"
    widths = [arg for option, value in TINY[32].items() for arg in ("--arch-option", f"{option}={value}")]
    result = invoke("run", "--arch", arch, "--loss", "hinge", *colour_data, *widths, "--latent-dim", LATENT_DIM,
                    "--batch-size", 8, "--steps", 1, "--log-every", 1, *extra, "--out", out)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["resolved"]["spectral_norm"] == "both"
    state = checkpoint_keys(out / "checkpoints" / "state.safetensors")
    assert not any(k.startswith("generator.shared.") and "parametrizations" in k for k in state)
    assert_normalised_run_trains_and_samples(out, tmp_path, generator_normalised=True, penalised="r1" in extra)
