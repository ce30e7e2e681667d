"""The ``infogan`` architecture: shapes, codes read from z, the mutual-information term, Q learning, CLI runs."""

from __future__ import annotations

import math

import pytest
import torch

import ganzoo
from ganzoo_plugins.architectures import infogan
from tests.helpers import assert_one_line_error, invoke, read_metrics

LATENT_DIM = 74  # the paper's MNIST input: 62 noise + 10 categories + 2 continuous values
MNIST = ganzoo.DataSpec((1, 28, 28), 10)


@pytest.fixture(scope="module")
def arch() -> ganzoo.Architecture:
    found: list[ganzoo.Architecture] = []
    infogan.register_architectures(register=found.append)
    assert [a.name for a in found] == ["infogan"] and not found[0].conditional
    return found[0]


@pytest.fixture
def one_thread():
    """Small matrices: one thread is as fast, and leaves the other cores alone."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(arch, spec=MNIST, latent_dim=LATENT_DIM, **options):
    torch.manual_seed(0)
    return arch.build(spec, latent_dim, **{**arch.options, **options})


def codes_of(arch, **options):
    return arch.latent_codes(MNIST, LATENT_DIM, **{**arch.options, **options})


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 32, 32), (3, 32, 32)])
@pytest.mark.parametrize("learn_std", [False, True])
def test_networks_return_the_contract_shapes(arch, shape, learn_std):
    generator, discriminator = build(arch, ganzoo.DataSpec(shape, 0), learn_std=learn_std)
    fake = generator(torch.randn(5, LATENT_DIM))
    assert fake.shape == (5, *shape) and fake.min() >= -1 and fake.max() <= 1
    logits, q = discriminator(fake)
    # Q: 10 category logits, then a mean (and a log-std) for each of c1, c2
    assert logits.shape == (5,) and q.shape == (5, 14 if learn_std else 12)


def test_the_paper_s_mnist_layer_widths(arch):
    generator, discriminator = build(arch)
    widths = lambda net: [(m.in_features, m.out_features) for m in net.modules() if isinstance(m, torch.nn.Linear)]
    channels = lambda net: [m.out_channels for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert widths(generator) == [(74, 1024), (1024, 7 * 7 * 128)] and channels(generator) == [64, 1]
    assert channels(discriminator) == [64, 128]
    assert widths(discriminator) == [(7 * 7 * 128, 1024), (1024, 1), (1024, 128), (128, 12)]
    slopes = {m.negative_slope for m in discriminator.modules() if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.1}
    _, critic = build(arch, discriminator_batch_norm=False)  # WGAN-GP's preset: the shared layers lose BatchNorm
    norms = lambda net: [m for m in net.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
    assert len(norms(discriminator.shared)) == 2 and not norms(critic.shared) and len(norms(critic.recognition)) == 1


def test_the_codes_follow_the_options(arch):
    assert codes_of(arch) == (ganzoo.LatentCode("digit", "categorical", 10), ganzoo.LatentCode("c1", "continuous", 1),
                              ganzoo.LatentCode("c2", "continuous", 1))
    assert [c.name for c in codes_of(arch, categories=0, continuous=3)] == ["c1", "c2", "c3"]
    assert codes_of(arch, categories=4, continuous=0) == (ganzoo.LatentCode("digit", "categorical", 4),)


@pytest.mark.parametrize(("options", "fragment"), [
    ({"categories": 1}, "at least 2"), ({"categories": 0, "continuous": 0}, "at least one latent code"),
    ({"continuous": -1}, "non-negative int"), ({"info_weight": -1.0}, "non-negative number"),
])
def test_bad_options_are_ganzoo_errors(arch, options, fragment):
    with pytest.raises(ganzoo.GanzooError, match=fragment):
        build(arch, **options)


def test_a_latent_dim_without_room_for_noise_names_the_minimum(arch):
    with pytest.raises(ganzoo.GanzooError, match="at least 13, got 12"):
        build(arch, latent_dim=12)
    with pytest.raises(ganzoo.GanzooError, match="size 28 or 32"):
        build(arch, ganzoo.DataSpec((1, 64, 64), 0))


def test_the_generator_input_is_the_noise_then_one_hot_digit_then_continuous_values(arch):
    generator, _ = build(arch)
    seen = []
    generator.layers[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    z = ganzoo.noise_with_codes(torch.randn(3, LATENT_DIM), codes_of(arch),
                                {"digit": torch.tensor(7), "c1": torch.tensor(0.5)})
    generator(z)
    expected_digit = torch.zeros(3, 10)
    expected_digit[:, 7] = 1
    assert torch.equal(seen[0][:, :62], z[:, :62]) and torch.equal(seen[0][:, 62:72], expected_digit)
    assert torch.allclose(seen[0][:, 72], torch.full((3,), 0.5), atol=1e-5)
    assert torch.allclose(seen[0][:, 73], torch.erf(z[:, 73] / math.sqrt(2)))


def test_the_generator_reads_its_codes_from_z(arch):
    generator, _ = build(arch)
    generator.eval()  # per-sample outputs: batch statistics would mix the rows
    codes = codes_of(arch)
    z = torch.randn(4, LATENT_DIM)
    with torch.no_grad():
        for k in (0, 3, 9):
            chosen = ganzoo.noise_with_codes(z, codes, {"digit": torch.tensor(k)})
            assert torch.equal(chosen[:, :62], z[:, :62]) and torch.equal(chosen[:, 72:], z[:, 72:])
            assert ganzoo.codes_from_noise(chosen, codes)["digit"].tolist() == [k] * 4
        zeros, threes = (generator(ganzoo.noise_with_codes(z, codes, {"digit": torch.tensor(k)})) for k in (0, 3))
        assert (zeros - threes).abs().amax(dim=(1, 2, 3)).min() > 1e-4  # every sample changes
        # Only the argmax of the categorical columns counts: a different draw with the same winner is the same input.
        same_winner = ganzoo.noise_with_codes(z, codes, {"digit": torch.tensor(3)})
        same_winner[:, 62:72] = same_winner[:, 62:72] * 0.5
        assert torch.allclose(generator(same_winner), threes)
        moved = generator(ganzoo.noise_with_codes(z, codes, {"digit": torch.tensor(3), "c1": torch.tensor(0.9)}))
        assert not torch.allclose(moved, threes)


def hand_made_batch(arch):
    """Four generated samples with known codes and a hand-made Q output for them."""
    codes = codes_of(arch)
    digits, c1, c2 = torch.tensor([0, 3, 3, 9]), torch.tensor([-0.5, 0.0, 0.25, 0.9]), torch.tensor([0.1, -0.8, 0.4, 0.0])
    z = torch.randn(4, LATENT_DIM)
    for row in range(4):
        z[row:row + 1] = ganzoo.noise_with_codes(z[row:row + 1], codes, {"digit": digits[row], "c1": c1[row],
                                                                          "c2": c2[row]})
    q = torch.randn(4, 14)  # 10 logits, then c1's mean (and log-std), then c2's
    return z, q, digits, torch.stack([c1, c2], dim=1)


def test_the_auxiliary_loss_matches_its_formula(arch):
    torch.manual_seed(1)
    z, q, digits, values = hand_made_batch(arch)
    fake = ganzoo.AuxiliaryTarget(real=False, labels=None, z=z, generator_update=True)
    options = {**arch.options, "info_weight": 2.0, "continuous_weight": 0.3}
    logits = q[:, :10]
    cross_entropy = sum(math.log(logits[i].exp().sum()) - logits[i, digits[i]] for i in range(4)) / 4
    means = q[:, [10, 11]]
    gaussian = sum(0.5 * (values[i, j] - means[i, j]) ** 2 for i in range(4) for j in range(2)) / 4
    loss = arch.auxiliary_loss(q[:, :12], fake, **options)
    assert loss.item() == pytest.approx(2.0 * (cross_entropy + 0.3 * gaussian).item(), rel=1e-5)

    # learn_std: Q's output is c1's mean and log-std, then c2's; the Gaussian's log-density, less its constant
    means, log_stds = q[:, [10, 12]], q[:, [11, 13]]
    gaussian = sum(0.5 * ((values[i, j] - means[i, j]) / log_stds[i, j].exp()) ** 2 + log_stds[i, j]
                   for i in range(4) for j in range(2)) / 4
    loss = arch.auxiliary_loss(q, fake, **{**options, "learn_std": True})
    assert loss.item() == pytest.approx(2.0 * (cross_entropy + 0.3 * gaussian).item(), rel=1e-5)


def test_the_auxiliary_loss_scores_generated_samples_only(arch):
    z, q, _, _ = hand_made_batch(arch)
    real = ganzoo.AuxiliaryTarget(real=True, labels=None, z=None, generator_update=False)
    assert arch.auxiliary_loss(q[:, :12], real, **arch.options) == 0.0
    fake = ganzoo.AuxiliaryTarget(real=False, labels=None, z=z, generator_update=False)
    assert arch.auxiliary_loss(q[:, :12], fake, **{**arch.options, "info_weight": 0.0}).item() == 0.0
    assert arch.auxiliary_loss(q[:, :12], fake, **arch.options).item() > 0


def test_the_recognition_network_learns_the_codes_of_generated_samples(arch, one_thread):
    generator, discriminator = build(arch)
    codes = codes_of(arch)
    with torch.no_grad():
        # A trained InfoGAN's images depend strongly on the codes; an untrained generator's barely do.
        generator.layers[0].weight[:, 62:].mul_(5.0)
        z = torch.randn(768, LATENT_DIM)
        features = discriminator.shared(generator(z))  # fixed samples; Q alone trains
    train, held_out = slice(0, 512), slice(512, None)
    optimizer = torch.optim.Adam(discriminator.recognition.parameters(), lr=1e-3, betas=(0.5, 0.999))
    batches = torch.Generator().manual_seed(0)
    for _ in range(300):
        rows = torch.randint(0, 512, (64,), generator=batches)
        target = ganzoo.AuxiliaryTarget(real=False, labels=None, z=z[train][rows], generator_update=False)
        loss = arch.auxiliary_loss(discriminator.recognition(features[train][rows]), target, **arch.options)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    discriminator.eval()
    with torch.no_grad():
        q = discriminator.recognition(features[held_out])
    values = ganzoo.codes_from_noise(z[held_out], codes)
    accuracy = (q[:, :10].argmax(dim=1) == values["digit"]).float().mean().item()
    assert accuracy > 0.6  # chance: 0.1
    continuous = torch.cat([values["c1"], values["c2"]], dim=1)
    assert (q[:, 10:] - continuous).square().mean() < 0.5 * continuous.var()  # the best constant guess: the variance


def train(tmp_path, name, *extra):
    out = tmp_path / name
    result = invoke("run", "--arch", "infogan", "--loss", "bce", "--data", "mnist-mini", "--latent-dim", LATENT_DIM,
                    "--steps", 2, "--batch-size", 16, "--log-every", 1, "--threads", 1, *extra, "--out", out)
    assert result.exit_code == 0, result.output
    records = [r for r in read_metrics(out) if "g_loss" in r]
    assert len(records) == 2 and all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in records)
    return out, records


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    return train(tmp_path_factory.mktemp("infogan"), "run")


def test_a_cli_run_adds_the_information_term_to_both_losses(mnist_run, tmp_path):
    _, with_info = mnist_run
    _, without = train(tmp_path, "no-info", "--arch-option", "info_weight=0")
    # At the start Q knows nothing: the categorical cross-entropy alone is about log 10 = 2.3.
    assert with_info[0]["g_loss"] - without[0]["g_loss"] > 1.0
    assert with_info[0]["d_loss"] - without[0]["d_loss"] > 1.5


def test_a_cli_run_in_bf16_with_ema(tmp_path):
    out, _ = train(tmp_path, "bf16", "--precision", "bf16", "--ema", 0.9)
    assert invoke("sample", out, "-n", 2, "-o", tmp_path / "ema.png").exit_code == 0


def test_samples_from_a_saved_run(mnist_run, tmp_path):
    out, _ = mnist_run
    result = invoke("sample", out, "-n", 4, "-o", tmp_path / "out.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.png").is_file()
    result = invoke("sample", out, "--vary", "digit", "-n", 20, "-o", tmp_path / "digits.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "digits.png").is_file()


def test_a_cli_run_with_too_small_a_latent_dim_is_a_one_line_error(tmp_path):
    result = invoke("run", "--arch", "infogan", "--loss", "bce", "--data", "mnist-mini", "--steps", 1,
                    "--latent-dim", 12, "--out", tmp_path / "run")
    assert_one_line_error(result, "--latent-dim must be at least 13")
