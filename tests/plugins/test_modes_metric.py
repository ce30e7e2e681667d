"""The ``modes`` metric on ring8 / grid25 with point sets of known coverage."""

from __future__ import annotations

import math

import pytest
import torch

import ganzoo
from ganzoo.evaluation.sources import TensorSamples
from ganzoo import DataSpec, EvalContext, GanzooError
from ganzoo_plugins.datasets import toy_mixtures
from ganzoo_plugins.datasets.torchvision_sets import MNIST
from ganzoo_plugins.metrics import modes
from ganzoo_plugins.metrics.modes import ModesMetric, coverage_threshold


def toy(name: str) -> ganzoo.Dataset:
    found: list[ganzoo.Dataset] = []
    toy_mixtures.register_datasets(register=found.append)
    return next(dataset for dataset in found if dataset.name == name)


def evaluate(dataset, points: torch.Tensor, batch_size: int = 300) -> ganzoo.MetricResult:
    context = EvalContext(
        dataset=dataset, spec=dataset.spec, data_root="unused", num_samples=len(points), batch_size=batch_size
    )
    metric = ModesMetric()
    metric.check(context)
    return metric.compute(TensorSamples(points, dataset.spec), context)


def around(dataset, mode_indices: list[int], per_mode: int, seed: int = 0) -> torch.Tensor:
    """``per_mode`` points at 1 sigma of noise around each listed centre."""
    rng = torch.Generator().manual_seed(seed)
    labels = torch.tensor(mode_indices).repeat_interleave(per_mode)
    return dataset.centers[labels] + dataset.std * torch.randn(len(labels), 2, generator=rng)


def test_registered_through_the_hook():
    found = []
    modes.register_metrics(register=found.append)
    assert [(m.name, m.primary, m.higher_is_better) for m in found] == [("modes", "modes_covered", True)]


def test_threshold_scales_the_papers_20_of_2500():
    assert coverage_threshold(2500) == 20
    assert coverage_threshold(10_000) == 80
    assert coverage_threshold(2501) == 21
    assert coverage_threshold(10) == 1


@pytest.mark.parametrize(("name", "k"), [("ring8", 8), ("grid25", 25)])
def test_the_datasets_own_samples_cover_every_mode(name, k):
    dataset = toy(name)
    data = dataset.load("unused", num_samples=5000)
    points, _ = data.batch(torch.arange(len(data)))
    result = evaluate(dataset, points)
    assert result.values["modes_covered"] == k
    assert result.values["modes_total"] == k
    # Gaussian in 2-D: P(|x| <= 3 sigma) = 1 - exp(-9/2) = 0.9889.
    assert result.values["high_quality_share"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert 0 <= result.values["mode_kl"] < 0.01
    assert result.protocol["threshold"] == 40
    assert result.protocol["num_samples"] == 5000
    assert result.protocol["num_modes"] == k
    assert result.protocol["sigma_multiple"] == 3


def test_three_of_eight_modes():
    dataset = toy("ring8")
    points = around(dataset, [0, 3, 5], per_mode=1000)
    result = evaluate(dataset, points)
    assert result.values["modes_covered"] == 3
    assert result.values["high_quality_share"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    # Smoothed histogram: about 1/3 on each of three modes -> KL a bit under log(8/3).
    assert 0.9 < result.values["mode_kl"] < math.log(8 / 3)


def test_mode_kl_against_its_formula():
    dataset = toy("ring8")
    points = torch.cat([dataset.centers[[0, 3, 5]]] * 1000)  # exactly 1000 on each of three modes
    result = evaluate(dataset, points)
    p = torch.tensor([1001.0] * 3 + [1.0] * 5, dtype=torch.float64) / 3008  # (counts + 1) / (3000 + 8)
    assert result.values["mode_kl"] == pytest.approx(float((p * (8 * p).log()).sum()), rel=1e-9)
    assert result.values["modes_covered"] == 3


def test_uniform_points_are_mostly_low_quality():
    dataset = toy("grid25")
    points = torch.rand(5000, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    result = evaluate(dataset, points)
    # 25 discs of radius 0.03 in a square of area 4: about 1.8% of the points.
    assert result.values["high_quality_share"] == pytest.approx(25 * math.pi * 0.03**2 / 4, abs=0.01)
    assert result.values["modes_covered"] == 0  # ~3.5 points per mode, threshold 40


def test_half_on_modes_half_far_away():
    dataset = toy("ring8")
    on = torch.cat([dataset.centers] * 250)  # exactly on the centres: 2000 points
    off = torch.zeros(2000, 2)  # the ring's centre, 0.8 from every mode
    result = evaluate(dataset, torch.cat([on, off]))
    assert result.values["high_quality_share"] == 0.5
    assert result.values["modes_covered"] == 8
    assert result.values["mode_kl"] == pytest.approx(0.0, abs=1e-12)


def test_a_mode_below_the_threshold_is_not_counted():
    dataset = toy("ring8")
    # 2500 points: threshold 20. Mode 0 gets 19, mode 1 gets exactly 20, the rest sit at the centre.
    centers = dataset.centers
    points = torch.cat([centers[[0]].repeat(19, 1), centers[[1]].repeat(20, 1), torch.zeros(2461, 2)])
    result = evaluate(dataset, points)
    assert result.protocol["threshold"] == 20
    assert result.values["modes_covered"] == 1
    assert result.values["high_quality_share"] == pytest.approx(39 / 2500)


def test_just_outside_three_sigma_is_low_quality():
    dataset = toy("ring8")
    step = torch.tensor([dataset.std * 3.01, 0.0])
    inside = torch.tensor([dataset.std * 2.99, 0.0])
    points = torch.cat([(dataset.centers + inside).repeat(5, 1), (dataset.centers + step).repeat(5, 1)])
    result = evaluate(dataset, points, batch_size=7)
    assert result.values["high_quality_share"] == 0.5


def test_no_high_quality_sample_reports_total_collapse_kl():
    dataset = toy("ring8")
    result = evaluate(dataset, torch.zeros(100, 2))
    assert result.values["modes_covered"] == 0
    assert result.values["high_quality_share"] == 0
    assert result.values["mode_kl"] == pytest.approx(math.log(8))


class ThirdPartyMixture(ganzoo.Dataset):
    name = "two-points"
    spec = DataSpec((2,))
    centers = [[-0.5, 0.0], [0.5, 0.0]]
    std = 0.01


def test_any_object_with_centers_and_std_works():
    dataset = ThirdPartyMixture()
    result = evaluate(dataset, torch.tensor([[-0.5, 0.0], [0.5, 0.001], [0.0, 0.0]]))
    assert result.values["modes_covered"] == 2
    assert result.values["high_quality_share"] == pytest.approx(2 / 3)


class Stub(ganzoo.Dataset):
    name = "stub"
    spec = DataSpec((2,))


@pytest.mark.parametrize(("dataset", "name"), [(Stub(), "stub"), (MNIST, "mnist")])
def test_check_rejects_datasets_without_centers(dataset, name):
    context = EvalContext(dataset=dataset, spec=dataset.spec, data_root="unused", num_samples=10)
    with pytest.raises(GanzooError) as raised:
        ModesMetric().check(context)
    message = str(raised.value)
    assert "\n" not in message
    assert message == (
        "metric 'modes' needs a Gaussian-mixture dataset with centers and std "
        f"(such as ring8 or grid25); dataset '{name}' has none"
    )


def test_check_rejects_centers_of_the_wrong_dimension():
    dataset = ThirdPartyMixture()
    context = EvalContext(dataset=dataset, spec=DataSpec((3,)), data_root="unused", num_samples=10)
    with pytest.raises(GanzooError, match=r"centers of shape \(K, 3\)"):
        ModesMetric().check(context)
