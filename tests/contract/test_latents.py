"""Structured latent codes read from (and written into) the generator's normal noise."""

from __future__ import annotations

import pytest
import torch

import ganzoo

CODES = (ganzoo.LatentCode("digit", "categorical", 10), ganzoo.LatentCode("c1", "continuous", 1),
         ganzoo.LatentCode("c2", "continuous", 1))


def test_codes_from_normal_noise_are_uniform():
    z = torch.randn(200_000, 62 + 12, generator=torch.Generator().manual_seed(0))
    codes = ganzoo.codes_from_noise(z, CODES)
    frequencies = torch.bincount(codes["digit"], minlength=10).float() / len(z)
    assert torch.allclose(frequencies, torch.full((10,), 0.1), atol=0.005)  # each category equally likely
    for name in ("c1", "c2"):
        values = codes[name].flatten()
        assert values.min() >= -1 and values.max() <= 1
        # uniform on [-1, 1]: mean 0, variance 1/3, and a flat histogram
        assert abs(values.mean()) < 0.01 and abs(values.var() - 1 / 3) < 0.005
        histogram = torch.histc(values, bins=4, min=-1, max=1) / len(values)
        assert torch.allclose(histogram, torch.full((4,), 0.25), atol=0.005)


def test_codes_occupy_the_last_columns_only():
    z = torch.randn(8, 20)
    changed = z.clone()
    changed[:, :8] = torch.randn(8, 8)  # the unstructured noise
    for name, value in ganzoo.codes_from_noise(z, CODES).items():
        assert torch.equal(ganzoo.codes_from_noise(changed, CODES)[name], value)


def test_noise_with_codes_writes_the_values_that_codes_from_noise_reads():
    z = torch.randn(16, 74)
    written = ganzoo.noise_with_codes(z, CODES, {"digit": torch.tensor(7), "c1": torch.linspace(-0.9, 0.9, 16)[:, None]})
    codes = ganzoo.codes_from_noise(written, CODES)
    assert torch.equal(codes["digit"], torch.full((16,), 7))
    assert torch.allclose(codes["c1"].flatten(), torch.linspace(-0.9, 0.9, 16), atol=1e-5)
    assert torch.equal(codes["c2"], ganzoo.codes_from_noise(z, CODES)["c2"])  # codes not named are kept
    assert torch.equal(written[:, :62], z[:, :62]) and not torch.equal(written, z)


def test_bad_codes_are_refused():
    with pytest.raises(ValueError, match="kind"):
        ganzoo.LatentCode("x", "gaussian", 2)
    with pytest.raises(ValueError, match="size"):
        ganzoo.LatentCode("x", "categorical", 0)
    with pytest.raises(ValueError, match="columns"):
        ganzoo.codes_from_noise(torch.randn(2, 5), CODES)


def test_the_default_auxiliary_loss_is_acgans_cross_entropy():
    logits, labels = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    target = ganzoo.AuxiliaryTarget(real=True, labels=labels, z=None, generator_update=False)
    expected = -torch.log_softmax(logits, 1)[torch.arange(6), labels].mean()
    torch.testing.assert_close(ganzoo.Architecture().auxiliary_loss(logits, target), expected)
    unlabelled = ganzoo.AuxiliaryTarget(real=True, labels=None, z=None, generator_update=False)
    assert ganzoo.Architecture().auxiliary_loss(logits, unlabelled) == 0.0
    assert ganzoo.Architecture().latent_codes(ganzoo.DataSpec((1, 28, 28)), 100) == ()
