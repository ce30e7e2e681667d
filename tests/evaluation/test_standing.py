"""Standing batch-norm statistics (ganzoo.evaluation.standing) and their use in a run's outputs."""

from __future__ import annotations

import torch
from torch import nn

from ganzoo.distributed.sync_batchnorm import CpuSyncBatchNorm
from ganzoo.evaluation.standing import STANDING_BATCH, STANDING_SAMPLES, has_batch_norm, with_standing_statistics
from ganzoo.storage.checkpoint import read_checkpoint, read_generator
from ganzoo.training.recovery import STATE_KIND
from tests.helpers import invoke

CPU = torch.device("cpu")


def _linear_bn(latent_dim: int = 5, width: int = 3) -> nn.Sequential:
    torch.manual_seed(0)
    network = nn.Sequential(nn.Linear(latent_dim, width), nn.BatchNorm1d(width))
    network[1].running_mean.fill_(7.0)  # stale statistics that standing ones must replace
    network[1].running_var.fill_(9.0)
    return network


def test_statistics_are_the_equal_weight_average_over_the_standing_batches() -> None:
    network = _linear_bn()
    standing = with_standing_statistics(network, 5, device=CPU, seed=3)
    rng = torch.Generator().manual_seed(3)
    with torch.no_grad():
        outputs = [network[0](torch.randn(STANDING_BATCH, 5, generator=rng))
                   for _ in range(STANDING_SAMPLES // STANDING_BATCH)]
    mean = torch.stack([batch.mean(0) for batch in outputs]).mean(0)
    var = torch.stack([batch.var(0) for batch in outputs]).mean(0)  # unbiased per batch, as batch norm tracks
    norm = standing[1]
    torch.testing.assert_close(norm.running_mean, mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(norm.running_var, var, rtol=1e-5, atol=1e-6)
    assert not standing.training and norm.momentum == 0.1  # eval mode, the momentum given back
    assert int(norm.num_batches_tracked) == STANDING_SAMPLES // STANDING_BATCH


def test_the_trained_generator_and_the_global_rng_are_untouched() -> None:
    network = _linear_bn().train()
    before = {name: value.clone() for name, value in network.state_dict().items()}
    rng_state = torch.get_rng_state()
    standing = with_standing_statistics(network, 5, device=CPU, seed=0)
    assert standing is not network and network.training
    for name, value in network.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert torch.equal(torch.get_rng_state(), rng_state)
    # The same weights and seed give the same statistics.
    again = with_standing_statistics(network, 5, device=CPU, seed=0)
    assert torch.equal(again[1].running_mean, standing[1].running_mean)
    assert not torch.equal(with_standing_statistics(network, 5, device=CPU, seed=1)[1].running_mean,
                           standing[1].running_mean)


def test_a_generator_without_batch_norm_is_used_as_it_is() -> None:
    network = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    assert not has_batch_norm(network)
    assert with_standing_statistics(network, 4, device=CPU, seed=0) is network
    assert not has_batch_norm(nn.Sequential(nn.BatchNorm1d(4, track_running_stats=False)))


def test_conditional_generators_get_labels_in_range() -> None:
    class Conditional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(4, 3)
            self.norm = nn.BatchNorm1d(3)

        def forward(self, z, labels):
            assert labels.min() >= 0 and labels.max() < 4
            return self.norm(z[:, :3] + self.embed(labels))

    standing = with_standing_statistics(Conditional(), 6, device=CPU, seed=0, num_classes=4)
    assert int(standing.norm.num_batches_tracked) > 0


def test_synchronised_batch_norm_is_computed_locally() -> None:
    # Only rank 0 samples during a distributed run; a synchronised norm in train mode would wait for the others.
    network = nn.Sequential(nn.Linear(5, 3), CpuSyncBatchNorm(3), nn.Sequential(nn.SyncBatchNorm(3)))
    standing = with_standing_statistics(network, 5, device=CPU, seed=0)
    assert [type(module).__name__ for module in (standing[1], standing[2][0])] == ["_LocalBatchNorm"] * 2
    assert int(standing[1].num_batches_tracked) > 0
    assert isinstance(network[1], CpuSyncBatchNorm) and isinstance(network[2][0], nn.SyncBatchNorm)
    assert set(standing.state_dict()) == set(network.state_dict())  # the generator file's keys stay the same
    with torch.no_grad():
        assert standing(torch.randn(2, 5)).shape == (2, 3)


def test_a_run_writes_the_generator_with_standing_statistics(tmp_path) -> None:
    out = tmp_path / "run"
    result = invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "mnist-mini", "--steps", "3",
                    "--batch-size", "16", "--out", str(out), "--seed", "4")
    assert result.exit_code == 0, result.output
    tensors, record = read_generator(out / "checkpoints" / "generator.safetensors")
    state, _ = read_checkpoint(out / "checkpoints" / "state.safetensors", STATE_KIND)
    assert record.extra["batch_norm_statistics"] == f"standing, {STANDING_SAMPLES} samples"
    means = [name for name in tensors if name.endswith("running_mean")]
    assert means
    for name in means:  # the resumable state keeps the training's own running statistics
        assert not torch.equal(tensors[name], state[name]), name
        weight = name.replace("running_mean", "weight")
        assert torch.equal(tensors[weight], state[weight]), weight
