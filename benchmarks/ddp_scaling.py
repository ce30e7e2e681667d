"""Data-parallel scaling: img/s of one process against N processes under torchrun, same machine, same script.

The baseline is ``ganzoo run`` in one process using the whole machine (all
CPU threads, or one GPU); the other arm is ``torchrun --nproc-per-node N
-m ganzoo run`` (N gloo processes of one thread each, or N GPUs with NCCL).
Strong scaling keeps the global batch (each process gets 1/N of it); weak
scaling gives each process the baseline's batch. Throughput is the median
of the runs' logged img/s windows after the first (warm-up) one; rounds
alternate between the arms so machine noise hits both alike.

    python benchmarks/ddp_scaling.py --data-root ../shared/data                      # CPU: 1 x 2 threads vs 2 x 1
    python benchmarks/ddp_scaling.py --device cuda --batch-size 512 --scaling weak   # 1 GPU vs all GPUs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch


def run_once(model: str, data: str, processes: int, batch_size: int, args: argparse.Namespace) -> float:
    """Median logged img/s of one ``ganzoo run`` (under torchrun when ``processes`` > 1)."""
    threads = max(1, (os.cpu_count() or 1) // processes) if args.device == "cpu" else None
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch) / "run"
        command = [sys.executable, "-m", "ganzoo", "run"]
        if processes > 1:
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                       str(processes), "-m", "ganzoo", "run"]
        command += ["--arch", model, "--loss", "bce", "--data", data, "--data-root", args.data_root,
                    "--steps", str(args.steps), "--batch-size", str(batch_size), "--log-every", str(args.log_every),
                    "--sample-every", str(10 * args.steps), "--checkpoint-every", str(10 * args.steps),
                    "--device", args.device, "--precision", args.precision, "-o", str(run_dir)]
        if threads:
            command += ["--threads", str(threads)]
        if args.sync_bn and processes > 1:
            command.append("--sync-bn")
        env = {**os.environ, "OMP_NUM_THREADS": str(threads or 1)}
        finished = subprocess.run(command, capture_output=True, text=True, env=env)
        if finished.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{finished.stdout}{finished.stderr}")
        records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        speeds = [r["img_per_s"] for r in records if r.get("img_per_s")][1:]
        return statistics.median(speeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="dcgan:cifar10,mlp:mnist", help="ARCH:DATA pairs, comma-separated")
    parser.add_argument("--data-root", default=os.environ.get("GANZOO_DATA", "../shared/data"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
    parser.add_argument("--processes", type=int,
                        help="N (default: every GPU on cuda, every core on cpu)")
    parser.add_argument("--batch-size", type=int, default=64, help="the baseline's batch")
    parser.add_argument("--scaling", choices=("strong", "weak"), default="strong",
                        help="strong: the same global batch; weak: the baseline's batch per process")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--sync-bn", action="store_true")
    args = parser.parse_args()
    processes = args.processes or (torch.cuda.device_count() if args.device == "cuda" else os.cpu_count() or 1)
    cpu = platform.processor() or platform.machine()
    gpus = ([torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            if args.device == "cuda" else [])
    print(f"machine: {cpu}, {os.cpu_count()} cores{', ' + ', '.join(gpus) if gpus else ''}; torch {torch.__version__}; "
          f"device {args.device}; {args.scaling} scaling; precision {args.precision}"
          + ("; --sync-bn" if args.sync_bn else ""))
    print(f"| model | batch (1 process) | 1 process img/s | batch ({processes} processes) | "
          f"{processes} processes img/s | speed-up | efficiency |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for pair in args.models.split(","):
        model, data = pair.split(":")
        wide_batch = args.batch_size * (processes if args.scaling == "weak" else 1)
        single, many = [], []
        for _ in range(args.rounds):
            single.append(run_once(model, data, 1, args.batch_size, args))
            many.append(run_once(model, data, processes, wide_batch, args))
        one, all_ = statistics.median(single), statistics.median(many)
        # On the CPU both arms use every core, so 1.0x is the ideal; on GPUs N devices ideally give N times.
        efficiency = f"{all_ / one / processes:.0%}" if args.device == "cuda" else "n/a (same cores)"
        print(f"| {model} / {data} | {args.batch_size} | {one:,.0f} | {wide_batch} | {all_:,.0f} | "
              f"{all_ / one:.2f}x | {efficiency} |", flush=True)


if __name__ == "__main__":
    main()
