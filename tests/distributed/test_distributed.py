"""Data-parallel training under torchrun, with 2 gloo processes on the CPU.

The reference for every multi-process run is one process with the same
global batch: with ``--sync-bn`` and fp32 the two compute the same thing up
to float rounding, so their losses must agree step by step.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from ganzoo.bench.cells import gpu_slots
from ganzoo.distributed.launch import launch_from_environment
from ganzoo.errors import GanzooError
from ganzoo.distributed.sync_batchnorm import CpuSyncBatchNorm, synchronize_batch_norm
from tests.distributed.ddp_worker import run_ranks
from tests.helpers import assert_one_line_error, invoke, read_metrics

TOY_RUN = ("--arch", "mlp", "--loss", "bce", "--data", "ring8", "--batch-size", "64", "--device", "cpu",
           "--precision", "fp32", "--log-every", "1", "--threads", "1")
STEPS = 30


def torchrun(*args: object, processes: int = 2, timeout: float = 240, **popen: object) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node N -m ganzoo run ARGS`` in a fresh process."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
               "-m", "ganzoo", "run", *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, **popen)


def checkpoint_meta(run_dir: Path) -> dict:
    with safe_open(str(run_dir / "checkpoints" / "state.safetensors"), "pt") as handle:
        return json.loads(handle.metadata()["ganzoo"])


#: Steps over which one and two processes agree to float rounding on every machine seen. Later, the GAN's
#: dynamics amplify the rounding (summation order differs): on one CPU the gap stayed near 1e-7 for 40 steps,
#: on another it jumped to 2.5e-5 at step 7 and 1e-3 by step 30.
ROUNDING_STEPS = 6


def assert_same_losses(reference: list[tuple[int, float, float]], other: list[tuple[int, float, float]]) -> None:
    """The same run: equal to float rounding for ROUNDING_STEPS steps, then close. A real difference (each rank
    drawing its own noise, batch norm without --sync-bn) shows a gap of about 3e-3 from the first steps on."""
    assert len(reference) == len(other)
    for (step, d_one, g_one), (_, d_two, g_two) in zip(reference, other):
        tolerance = 1e-6 if step <= ROUNDING_STEPS else 2e-2
        assert d_two == pytest.approx(d_one, abs=tolerance), step
        assert g_two == pytest.approx(g_one, abs=tolerance), step


def losses(run_dir: Path) -> list[tuple[int, float, float]]:
    return [(r["step"], r["d_loss"], r["g_loss"]) for r in read_metrics(run_dir) if "d_loss" in r]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> Path:
    """The reference: one process, global batch 64."""
    run_dir = tmp_path_factory.mktemp("single") / "run"
    result = invoke("run", *TOY_RUN, "--steps", STEPS, "-o", run_dir)
    assert result.exit_code == 0, result.output
    return run_dir


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The same run on 2 gloo processes of 32 samples each, with --sync-bn."""
    run_dir = tmp_path_factory.mktemp("ddp") / "run"
    finished = torchrun(*TOY_RUN, "--sync-bn", "--steps", STEPS, "-o", run_dir)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return run_dir, finished


def test_two_processes_train_exactly_like_one_with_the_same_global_batch(one_process, two_processes):
    run_dir, _ = two_processes
    single, ddp = losses(one_process), losses(run_dir)
    assert [step for step, _, _ in ddp] == list(range(1, STEPS + 1))
    assert_same_losses(single, ddp)



def test_the_generators_of_one_and_two_processes_sample_the_same(tmp_path):
    """Their weights need not agree (Adam turns the rounding noise in the gradient of a bias that batch norm
    cancels into full-size steps, so such biases wander without changing the output); their samples do, within
    the steps where the runs agree to rounding."""
    single, double = tmp_path / "single", tmp_path / "double"
    assert invoke("run", *TOY_RUN, "--steps", ROUNDING_STEPS, "-o", single).exit_code == 0
    finished = torchrun(*TOY_RUN, "--sync-bn", "--steps", ROUNDING_STEPS, "-o", double)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    samples = []
    for run in (single, double):
        result = invoke("sample", run, "-n", 256, "--device", "cpu", "-o", run / "samples.safetensors")
        assert result.exit_code == 0, result.output
        samples.append(next(iter(load_file(str(run / "samples.safetensors")).values())))
    # Measured: below 1e-4 on one CPU, 6e-4 on another (a 2-vCPU AMD EPYC without AVX-512).
    torch.testing.assert_close(samples[1], samples[0], atol=2e-3, rtol=0)


def test_ranks_hold_bit_identical_weights_and_rank_0_alone_writes(two_processes):
    run_dir, finished = two_processes
    meta = checkpoint_meta(run_dir)
    assert meta["step"] == STEPS and meta["world_size"] == 2
    digests = meta["replica_digests"]
    assert len(digests) == 2 and digests[0] == digests[1] and len(digests[0]) == 64
    resolved = json.loads((run_dir / "config.json").read_text())["resolved"]
    assert (resolved["world_size"], resolved["backend"], resolved["device"]) == (2, "gloo", "cpu")
    assert len(read_metrics(run_dir)) == STEPS  # one record per step, not one per rank
    output = finished.stdout + finished.stderr
    assert output.count("finished step") == 1
    assert output.count("training from step 0") == 1 and output.count(f"step {STEPS}/{STEPS}  D") == 1
    assert not list(run_dir.rglob("*.tmp*"))


def test_a_two_process_run_resumes_on_one_process(one_process, two_processes, tmp_path):
    """Every rank saves and loads the same state, so the world size may change on resume (same global batch)."""
    run_dir = tmp_path / "run"
    finished = torchrun(*TOY_RUN, "--sync-bn", "--steps", 10, "--checkpoint-every", 10, "-o", run_dir)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    result = invoke("run", "--resume", run_dir, "--steps", STEPS)
    assert result.exit_code == 0, result.output
    assert_same_losses(losses(one_process), losses(run_dir))


def test_sigterm_stops_every_rank_at_the_same_step_and_the_resumed_run_is_bit_identical(two_processes, tmp_path):
    """What a Slurm preemption does: SIGTERM to torchrun, which forwards it to its workers."""
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "ganzoo",
               "run", *TOY_RUN, "--sync-bn", "--steps", 100_000, "-o", run_dir]
    launcher = subprocess.Popen(list(map(str, command)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while _complete_lines(run_dir / "metrics.jsonl") < 3:
        assert time.monotonic() < deadline and launcher.poll() is None, "the run did not start"
        time.sleep(0.01)
    launcher.send_signal(signal.SIGTERM)
    output, _ = launcher.communicate(timeout=120)
    assert "interrupted by SIGTERM" in output, output
    meta = checkpoint_meta(run_dir)
    stopped = meta["step"]
    assert 3 <= stopped < 100_000
    assert meta["replica_digests"][0] == meta["replica_digests"][1]
    assert losses(run_dir)[-1][0] == stopped
    # Continue to the reference's length on 2 processes: the same weights, bit for bit.
    resumed = torchrun("--resume", run_dir, "--steps", max(STEPS, stopped + 2))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    if stopped + 2 <= STEPS:
        reference = load_file(str(two_processes[0] / "checkpoints" / "state.safetensors"))
        state = load_file(str(run_dir / "checkpoints" / "state.safetensors"))
        for name, tensor in reference.items():
            assert torch.equal(state[name], tensor), name
    assert checkpoint_meta(run_dir)["step"] == max(STEPS, stopped + 2)


def _complete_lines(path: Path) -> int:
    return path.read_text().count("\n") if path.is_file() else 0


def test_gradient_penalty_and_n_critic_train_under_ddp(tmp_path):
    """wgan-gp: 5 critic steps per generator step, a double backward through DDP, no batch norm sync."""
    run_dir = tmp_path / "run"
    finished = torchrun("--arch", "mlp", "--loss", "wgan-gp", "--data", "ring8", "--batch-size", "64", "--device", "cpu",
                        "--steps", 6, "--log-every", 3, "--threads", 1, "-o", run_dir)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    records = losses(run_dir)
    assert [step for step, _, _ in records] == [3, 6]
    assert all(abs(d) < 1e3 and abs(g) < 1e3 for _, d, g in records)
    assert all(r["penalty"] > 0 for r in read_metrics(run_dir))
    meta = checkpoint_meta(run_dir)
    assert meta["batches_drawn"] == 6 * 5
    assert meta["replica_digests"][0] == meta["replica_digests"][1]


def test_ranks_agree_on_lecams_anchors_and_they_follow_the_global_batch(tmp_path):
    """LeCam's anchors average D's outputs over the processes, so both ranks hold the one-process anchors
    (with --sync-bn, without which G's batch norm makes each rank's fakes differ from one process's)."""
    common = ("--arch", "mlp", "--loss", "hinge", "--data", "ring8", "--batch-size", "64", "--device", "cpu",
              "--precision", "fp32", "--reg", "lecam", "--reg", "r1:every=2", "--steps", 4, "--threads", 1, "--sync-bn")
    single, double = tmp_path / "single", tmp_path / "double"
    assert invoke("run", *common, "-o", single).exit_code == 0
    finished = torchrun(*common, "-o", double)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    meta = checkpoint_meta(double)
    assert meta["replica_digests"][0] == meta["replica_digests"][1]  # the digests cover the anchors
    anchors = []
    for run_dir in (single, double):
        with safe_open(str(run_dir / "checkpoints" / "state.safetensors"), "pt") as handle:
            anchors.append([handle.get_tensor(f"regularizer.0.lecam.anchor_{side}").item() for side in ("real", "fake")])
    assert anchors[0] != [0.0, 0.0]
    assert anchors[1] == pytest.approx(anchors[0], rel=1e-4, abs=1e-6)


def test_ranks_agree_on_the_ema_generator_and_adas_p(tmp_path):
    """The digests of the checkpointed replicas cover the EMA's weights and ADA's p, which follows every rank's D."""
    run_dir = tmp_path / "run"
    finished = torchrun("--arch", "dcgan", "--loss", "hinge", "--data", "mnist-mini", "--arch-option", "base_width=4",
                        "--batch-size", "16", "--device", "cpu", "--precision", "fp32", "--threads", 1, "--steps", 3,
                        "--ema", "0.9", "--augment", "ada:interval=1,speed_kimg=0.1,target=-1", "--augment", "diffaugment",
                        "--log-every", 1, "-o", run_dir)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    meta = checkpoint_meta(run_dir)
    assert meta["replica_digests"][0] == meta["replica_digests"][1]
    # target -1: p rises by the global batch of 16 over 100 images each update, as with one process
    assert [r["ada_p"] for r in read_metrics(run_dir)] == pytest.approx([0.16, 0.32, 0.48])


def assert_usage_exit(output: str) -> None:
    """torchrun's failure report says both ranks exited with code 2, or one did and torchrun stopped the
    other with SIGTERM before it got there (they exit together, so either may be first)."""
    codes = dict(re.findall(r"rank +: (\d+) \(local_rank: \d+\)\n +exitcode +: (-?\d+)", output))
    assert set(codes) == {"0", "1"} and "2" in codes.values() and set(codes.values()) <= {"2", "-15"}, output


def test_a_global_batch_the_processes_cannot_share_is_one_error_line(tmp_path):
    finished = torchrun(*TOY_RUN, "--batch-size", 63, "--steps", 2, "-o", tmp_path / "run")
    assert finished.returncode != 0
    output = finished.stdout + finished.stderr
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: --batch-size 63 (the global batch) must be divisible by the 2 processes"], output
    # Both processes exit with ganzoo's usage code and no traceback (torchrun then prints its own report).
    assert "[rank0]" not in output and "[rank1]" not in output, output
    assert_usage_exit(output)
    assert not (tmp_path / "run").exists()


def test_a_check_only_rank_0_makes_stops_every_rank(tmp_path):
    """The output directory exists: rank 0 alone checks it, and every rank stops with rank 0's message."""
    existing = tmp_path / "run"
    existing.mkdir()
    (existing / "config.json").write_text("{}")
    finished = torchrun(*TOY_RUN, "--steps", 2, "-o", existing)
    output = finished.stdout + finished.stderr
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(existing) in errors[0], output
    assert "[rank0]" not in output and "[rank1]" not in output, output
    assert_usage_exit(output)


def test_bench_gives_each_cell_two_processes(tmp_path, data_root):
    result = invoke("bench", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 8, "--log-every", 4,
                    "--device", "cpu", "--nproc-per-cell", 2, "--out", tmp_path / "sweep")
    assert result.exit_code == 0, result.output
    cell = tmp_path / "sweep" / "ring8-mlp-bce-seed0"
    assert json.loads((cell / "config.json").read_text())["resolved"]["world_size"] == 2
    assert checkpoint_meta(cell)["step"] == 8
    results = json.loads((tmp_path / "sweep" / "results.json").read_text())
    assert [cell["status"] for cell in results["cells"]] == ["ok"]
    assert results["settings"]["nproc_per_cell"] == 2


def test_launch_environment_is_read_and_checked():
    assert launch_from_environment({}).world_size == 1
    launch = launch_from_environment({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert (launch.rank, launch.local_rank, launch.world_size, launch.is_main) == (3, 1, 4, False)
    with pytest.raises(GanzooError, match="RANK=4"):
        launch_from_environment({"WORLD_SIZE": "4", "RANK": "4"})
    with pytest.raises(GanzooError, match="WORLD_SIZE='two'"):
        launch_from_environment({"WORLD_SIZE": "two"})


def test_sync_batch_norm_keeps_weights_and_checkpoint_keys():
    network = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Conv2d(1, 2, 1),
                                  torch.nn.BatchNorm2d(2, affine=False))
    with torch.no_grad():
        network[1].weight.uniform_()
        network[1].running_mean.uniform_()
    before = {name: tensor.clone() for name, tensor in network.state_dict().items()}
    synced = synchronize_batch_norm(network, torch.device("cpu"))
    assert isinstance(synced[1], CpuSyncBatchNorm) and isinstance(synced[3], CpuSyncBatchNorm)
    after = synced.state_dict()
    assert after.keys() == before.keys()
    for name, tensor in before.items():
        assert torch.equal(after[name], tensor), name
    # With one process it is ordinary batch norm.
    inputs = torch.randn(8, 4)
    reference = torch.nn.BatchNorm1d(4)
    reference.load_state_dict(synced[1].state_dict())
    torch.testing.assert_close(synced[1](inputs), reference(inputs))
    torch.testing.assert_close(synced[1].running_var, reference.running_var)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


NAN_RUN = {"arch": "mlp", "loss": "scripted-nan", "data": "ring8", "batch_size": 16, "log_every": 1, "device": "cpu",
           "precision": "fp32", "checkpoint_every": 5, "steps": 12,
           "arch_options": {"generator_widths": [16, 16], "discriminator_widths": [16]}}


def test_a_nan_on_one_rank_rolls_every_rank_back_at_the_same_step(tmp_path):
    """Rank 1's generator loss turns NaN at step 7; rank 0's stays finite. Both must notice at the same step,
    go back to step 5 together and finish, or the one that went on would wait forever for the other."""
    run_dir = tmp_path / "run"
    reports = run_ranks(2, _free_port(), {**NAN_RUN, "on_nan": "rollback"}, run_dir, {1: {"nan_loss_at": [7]}})
    assert reports == [{"step": 12, "interrupted": False}] * 2
    records = read_metrics(run_dir)
    events = [r for r in records if "event" in r]
    assert events == [{"event": "rollback", "step": 5, "bad_step": 7, "reason": "a loss became NaN or infinite",
                       "restored_step": 5, "lr_scale": 0.5}]
    assert [r["step"] for r in records if "d_loss" in r] == list(range(1, 13))
    meta = checkpoint_meta(run_dir)
    assert meta["step"] == 12 and meta["lr_scale"] == 0.5
    assert meta["replica_digests"][0] == meta["replica_digests"][1]


def test_a_nan_on_one_rank_stops_every_rank(tmp_path):
    run_dir = tmp_path / "run"
    reports = run_ranks(2, _free_port(), NAN_RUN, run_dir, {1: {"nan_loss_at": [7]}})
    assert [report["type"] for report in reports] == ["DivergedError"] * 2
    assert "a loss became NaN or infinite at step 7" in reports[0]["error"]
    assert checkpoint_meta(run_dir)["step"] == 5


def test_commands_other_than_run_refuse_to_run_once_per_process(tmp_path):
    env = {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}
    result = invoke("sample", tmp_path, "-o", tmp_path / "x.png", env=env)
    assert_one_line_error(result, "ganzoo sample runs in one process", "without torchrun")
    assert not (tmp_path / "x.png").exists()
    quiet = invoke("eval", tmp_path, "--metrics", "fid", env={**env, "RANK": "1", "LOCAL_RANK": "1"})
    assert quiet.exit_code == 2 and quiet.output == ""  # the same refusal on every rank: rank 0 alone prints it


def test_bench_forms_groups_of_the_visible_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 8)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpu_slots("auto", 1) == [str(index) for index in range(8)]
    assert gpu_slots("cuda", 3) == ["0,1,2", "3,4,5"]
    assert gpu_slots("cpu", 2) == [None]
    with pytest.raises(GanzooError, match="--nproc-per-cell 9 needs 9 GPUs, this machine shows 8"):
        gpu_slots("auto", 9)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3,6,7")
    assert gpu_slots("auto", 2) == ["2,3", "6,7"]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_torchrun_restarts_workers_after_one_dies_and_the_run_continues_from_its_checkpoint(tmp_path):
    """torchrun --max-restarts: the same command runs again in new workers and must continue, not start over
    (nor fail on the addresses the dead workers left in torchrun's store)."""
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "--max-restarts", "1", "-m", "ganzoo", "run", "--arch", "mlp", "--loss", "bce", "--data", "ring8",
               "--device", "cpu", "--steps", "200", "--log-every", "50", "--checkpoint-every", "50", "-o", run_dir]
    launcher = subprocess.Popen(list(map(str, command)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoints" / "state.safetensors").is_file():
        assert time.monotonic() < deadline and launcher.poll() is None, "no checkpoint"
        time.sleep(0.05)
    workers = _children(launcher.pid)
    assert len(workers) == 2
    os.kill(max(workers), signal.SIGKILL)
    output, _ = launcher.communicate(timeout=180)
    assert launcher.returncode == 0, output
    assert "note: torchrun restarted the workers; continuing" in output
    assert [r["step"] for r in read_metrics(run_dir)] == [50, 100, 150, 200]  # redone steps not doubled
    meta = checkpoint_meta(run_dir)
    assert meta["step"] == 200 and meta["replica_digests"][0] == meta["replica_digests"][1]
