"""Sample quality of ganzoo's runs against the classic GAN loop, at equal steps and at equal time.

Each arm trains one generator per seed, then every generator is scored with
the ``classifier`` metric (classifier-feature FID against the train split,
classes covered, class KL) on the same noise, in two batch-norm modes:

- ``running``: eval mode, batch norm uses the statistics the generator file
  holds: for ganzoo arms the standing statistics a run writes
  (:mod:`ganzoo.evaluation.standing`; what ``ganzoo sample``/``eval`` use),
  for the classic loop its momentum running averages;
- ``batch``: train mode, batch norm uses the statistics of each batch of 64
  (what pytorch/examples does when it draws its grids); buffers are restored;
- ``momentum`` (ganzoo arms only): eval mode with the momentum running
  averages the training itself kept (from the resumable state), i.e. what
  ganzoo sampled before standing statistics.

The metric's evaluator is the documented one for the data
(:func:`ganzoo_plugins.metrics.classifier_net.recipe_for`: the VGG for
CIFAR-10, the small CNN for MNIST), trained once and cached; its test
accuracy is printed and stored with every row.

Arms (``--arms``, comma-separated):

- ``classic``: :func:`classic_loop.classic_loop` in this process, fp32, on the
  architecture plugin's networks with ``CLASSIC_OPTIONS`` (the 512-256-128
  CIFAR DCGAN);
- any key of ``GANZOO_ARMS``: ``ganzoo run`` in a subprocess with those options;
- ``KEY@Nm``: that ganzoo arm given N minutes of training (``--max-minutes``);
- ``KEY@time``: that ganzoo arm given the classic loop's measured training
  time of the same seed (``--max-minutes``) instead of a step count; with
  ``--time-seed N``, the time of seed N for every seed (for when only that
  seed's classic run had the machine to itself).

Every row also holds ``class_counts``: how many of the samples the
evaluator assigns to each class, which names the classes a generator misses.

Training is skipped where an arm's output already exists, and so is scoring
where its ``eval-N.json`` does (delete it to score again), so an interrupted
study resumes. Results go to ``OUT/results.json`` and a table on stdout.
``--device cuda`` trains and scores every arm on the GPU (the classic loop
included), which turns the CIFAR-10 study from hours on 2 CPU cores into
minutes.

    python benchmarks/quality_vs_classic.py --models dcgan:cifar10 \\
        --arms classic,w64-bf16,w128-bf16,w128-fp32,default@time --seeds 0,1
    python benchmarks/quality_vs_classic.py --models mlp:mnist --arms classic,default,default@time --seeds 0,1
    python benchmarks/quality_vs_classic.py --arms default@20m,hinge-sn@20m,ema@20m,diffaugment@20m,ada@20m,lecam@20m,r1@20m
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import safetensors.torch
import torch
from classic_loop import LATENT_DIM, classic_loop

import ganzoo
from ganzoo.compute.precision import autocast
from ganzoo.evaluation.evaluate import EvalSettings, prepare_evaluation
from ganzoo.evaluation.sampling import load_generator
from ganzoo.registry import load_registry
from ganzoo.storage.checkpoint import read_checkpoint
from ganzoo.training.recovery import STATE_KIND
from ganzoo_plugins.metrics.classifier import Classifier
from ganzoo_plugins.metrics.classifier_net import evaluator_network

#: Architecture options of the classic loop's networks, per architecture.
CLASSIC_OPTIONS = {"dcgan": {"base_width": 128}, "mlp": {}}

#: ganzoo arms: extra ``ganzoo run`` options (``default`` is the command a user types; since round 4 its
#: 32-pixel dcgan is 512-256-128, so on a CPU without native bf16 ``default`` = ``w128-fp32``, and ``w64-fp32``
#: is the old default).
GANZOO_ARMS = {
    "default": [],
    "fp32": ["--precision", "fp32"],
    "w64-fp32": ["--arch-option", "base_width=64", "--precision", "fp32"],
    "w64-bf16": ["--arch-option", "base_width=64", "--precision", "bf16"],
    "w128-bf16": ["--arch-option", "base_width=128", "--precision", "bf16"],
    "w128-fp32": ["--arch-option", "base_width=128", "--precision", "fp32"],
    # issue #16's ablation: what each technique buys on top of the default, one at a time (use with @20m)
    "hinge-sn": ["--loss", "hinge", "--spectral-norm", "discriminator"],
    "ema": ["--ema", "0.999"],
    "diffaugment": ["--augment", "diffaugment:policy=color,translation,cutout"],
    "ada": ["--augment", "ada"],
    "lecam": ["--reg", "lecam"],
    "r1": ["--reg", "r1:gamma=0.1"],
}

BN_MODES = ("running", "batch", "momentum")
SAMPLE_BATCH = 64
PROGRESS_EVERY = 100
NOISE_SEED = 1234


def train_classic(arch, data, seed, steps, batch_size, data_root, out: Path, device: torch.device) -> dict:
    registry = load_registry()
    architecture, dataset = registry.architecture(arch), registry.dataset(data)
    spec = dataset.spec_for(data_root)
    torch.manual_seed(seed)
    train_data = dataset.load(data_root, train=True, download=False)
    options = {**architecture.options, **CLASSIC_OPTIONS[arch]}
    generator, discriminator = architecture.build(spec, LATENT_DIM, **options)
    loop = classic_loop(generator.to(device), discriminator.to(device), train_data, batch_size, device)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        next(loop)
        if step % PROGRESS_EVERY == 0:
            print(f"  classic step {step}/{steps}, {time.perf_counter() - start:.0f} s", flush=True)
    seconds = time.perf_counter() - start  # the loop reads a loss every step, so the device is synchronised
    out.mkdir(parents=True, exist_ok=True)
    state = {name: value.cpu() for name, value in generator.state_dict().items()}
    safetensors.torch.save_file(state, str(out / "generator.safetensors"))
    info = {"kind": "classic", "arch": arch, "data": data, "options": options, "seed": seed, "steps": steps,
            "train_seconds": seconds, "precision": "fp32", "device": str(device), "threads": torch.get_num_threads()}
    (out / "arm.json").write_text(json.dumps(info, indent=1))
    return info


def train_ganzoo(arm, arch, data, seed, steps, batch_size, data_root, out: Path, device: torch.device,
                 minutes=None, threads=None) -> dict:
    command = [sys.executable, "-m", "ganzoo", "run", "--arch", arch, "--loss", "bce", "--data", data,
               "--data-root", data_root, "--seed", str(seed), "--batch-size", str(batch_size),
               "--out", str(out / "run"), "--no-download", "--device", device.type, *GANZOO_ARMS[arm]]
    if threads:
        command += ["--threads", str(threads)]
    command += ["--steps", "1000000", "--max-minutes", f"{minutes:.4f}"] if minutes else ["--steps", str(steps)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    run_summary = json.loads((out / "run" / "summary.json").read_text())
    resolved = json.loads((out / "run" / "config.json").read_text())["resolved"]
    info = {"kind": "ganzoo", "arm": arm, "arch": arch, "data": data, "seed": seed, "command": command[2:],
            "steps": run_summary["step"], "train_seconds": run_summary["wall_s"], "process_seconds": seconds,
            "max_minutes": minutes, "precision": resolved["precision"], "options": resolved["arch_options"],
            "device": resolved["device"], "threads": threads or torch.get_num_threads()}
    (out / "arm.json").write_text(json.dumps(info, indent=1, default=str))
    return info


def load_arm(out: Path, registry, device):
    """(generator, precision, info) of a trained arm."""
    info = json.loads((out / "arm.json").read_text())
    if info["kind"] == "classic":
        architecture = registry.architecture(info["arch"])
        spec = registry.dataset(info["data"]).spec_for(info.get("data_root", DATA_ROOT))
        generator, _ = architecture.build(spec, LATENT_DIM, **info["options"])
        generator.load_state_dict(safetensors.torch.load_file(str(out / "generator.safetensors")))
        return generator.to(device), "fp32", info
    loaded = load_generator(out / "run", registry, device)
    return loaded.network, info["precision"], info


def sample(generator, count, mode, precision, device) -> torch.Tensor:
    """``count`` samples on fixed noise, batch norm in ``mode``; the generator's state is left unchanged."""
    state = {name: value.clone() for name, value in generator.state_dict().items()}
    generator.train(mode == "batch")
    rng = torch.Generator().manual_seed(NOISE_SEED)
    batches = []
    with torch.no_grad(), autocast(precision, device.type):
        for start in range(0, count, SAMPLE_BATCH):
            noise = torch.randn(min(SAMPLE_BATCH, count - start), LATENT_DIM, generator=rng)
            batches.append(generator(noise.to(device)).float().clamp(-1, 1).cpu())
    generator.load_state_dict(state)
    generator.eval()
    return torch.cat(batches)


def evaluate(out: Path, data: str, num_samples: int, registry, device) -> list[dict]:
    generator, precision, info = load_arm(out, registry, device)
    dataset = registry.dataset(data)
    spec = dataset.spec_for(DATA_ROOT)
    evaluation = prepare_evaluation(["classifier"], registry, dataset=dataset, spec=spec, data_root=DATA_ROOT,
                                    data_options={}, device=device,
                                    settings=EvalSettings(num_samples=num_samples, download=False))
    rows = []
    # The classic loop's running statistics are its momentum averages: no third mode.
    for mode in BN_MODES if info["kind"] == "ganzoo" else ("running", "batch"):
        if mode == "momentum":
            state, _ = read_checkpoint(out / "run" / "checkpoints" / "state.safetensors", STATE_KIND)
            generator.load_state_dict({name[len("generator."):]: value for name, value in state.items()
                                       if name.startswith("generator.")})
        network_mode = "running" if mode == "momentum" else mode
        images = sample(generator, num_samples, network_mode, precision, device)
        result = evaluation.run(ganzoo.TensorSamples(images, spec))["classifier"]
        rows.append({"bn_mode": mode, **result.values, "class_counts": class_counts(images, evaluation, spec),
                     "protocol": result.protocol})
    return rows


def class_counts(images: torch.Tensor, evaluation, spec) -> list[int]:
    """How many of ``images`` the metric's cached evaluator assigns to each class (which classes are missing)."""
    metric = Classifier()
    recipe = metric.recipe_for(evaluation.context)
    net = evaluator_network(spec.shape, spec.num_classes, recipe)
    weights = metric.cache_directory(evaluation.context) / "evaluator.safetensors"
    net.load_state_dict(safetensors.torch.load_file(str(weights)))
    device = evaluation.context.device
    net.to(device).eval()
    with torch.inference_mode():
        classes = torch.cat([net.head(net.features(batch.to(device))).argmax(1).cpu() for batch in images.split(256)])
    return torch.bincount(classes, minlength=spec.num_classes).tolist()


def evaluated(out: Path, data: str, num_samples: int, registry, device) -> list[dict]:
    """:func:`evaluate`'s rows, kept in the arm's directory: a study evaluated in parts scores each arm once."""
    path = out / f"eval-{num_samples}.json"
    if path.exists():
        return json.loads(path.read_text())
    rows = evaluate(out, data, num_samples, registry, device)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(rows, indent=1))
    temporary.replace(path)
    return rows


def info_of(out: Path) -> dict:
    return json.loads((out / "arm.json").read_text())


def arm_directory(root: Path, model: str, arm: str, seed: int) -> Path:
    return root / model.replace(":", "-") / arm.replace("@", "-at-") / f"seed{seed}"


def main():
    global DATA_ROOT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="dcgan:cifar10", help="comma-separated ARCH:DATA pairs")
    parser.add_argument("--arms", default="classic,default,default@time")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-samples", type=int, default=5000)
    parser.add_argument("--phase", choices=("train", "eval", "all"), default="all")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads of every training (default: torch's, all cores)")
    parser.add_argument("--time-seed", type=int, default=None,
                        help="@time arms get the classic loop's time of this seed (default: their own seed's)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda: where every arm trains and is scored")
    parser.add_argument("--data-root", default=os.environ.get("GANZOO_DATA", "../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("runs/quality-vs-classic"))
    args = parser.parse_args()
    DATA_ROOT = args.data_root
    seeds = [int(seed) for seed in args.seeds.split(",")]
    arms = args.arms.split(",")
    registry, device = load_registry(), torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    accelerator = f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores{accelerator}, "
          f"torch {torch.__version__}")

    for model in args.models.split(","):
        arch, data = model.split(":")
        if args.phase in ("train", "all"):
            for arm in arms:
                for seed in seeds:
                    out = arm_directory(args.out, model, arm, seed)
                    if (out / "arm.json").exists():
                        continue
                    print(f"training {model} {arm} seed {seed}", flush=True)
                    if arm == "classic":
                        info = train_classic(arch, data, seed, args.steps, args.batch_size, args.data_root, out,
                                             device)
                    else:
                        key, _, budget = arm.partition("@")
                        minutes = None
                        if budget == "time":
                            timed_seed = seed if args.time_seed is None else args.time_seed
                            classic = json.loads((arm_directory(args.out, model, "classic", timed_seed)
                                                  / "arm.json").read_text())
                            minutes = classic["train_seconds"] / 60
                        elif budget.endswith("m"):  # KEY@20m: a fixed budget of 20 minutes
                            minutes = float(budget[:-1])
                        info = train_ganzoo(key, arch, data, seed, args.steps, args.batch_size, args.data_root, out,
                                            device, minutes, args.threads)
                    print(f"  done: {info['steps']} steps in {info['train_seconds']:.0f} s", flush=True)
        if args.phase in ("eval", "all"):
            results = []
            for arm in arms:
                for seed in seeds:
                    out = arm_directory(args.out, model, arm, seed)
                    if not (out / "arm.json").exists():
                        continue
                    for row in evaluated(out, data, args.num_samples, registry, device):
                        results.append({"model": model, "arm": arm, "seed": seed, "steps": info_of(out)["steps"],
                                        "train_seconds": info_of(out)["train_seconds"], **row})
                        print(f"{model:14s} {arm:18s} seed {seed} {row['bn_mode']:8s} "
                              f"fid {row['classifier_fid']:7.2f} covered {row['modes_covered']:4.0f} "
                              f"kl {row['class_kl']:.3f} classes {row['class_counts']} "
                              f"(evaluator {row['protocol']['evaluator_recipe']['network']}, "
                              f"{row['protocol']['evaluator_test_accuracy']:.4f} test accuracy)", flush=True)
            summary(results)
            path = args.out / model.replace(":", "-") / "results.json"
            path.write_text(json.dumps(results, indent=1))


def summary(results):
    groups = {}
    for row in results:
        groups.setdefault((row["arm"], row["bn_mode"]), []).append(row)
    print(f"\n{'arm':18s} {'bn mode':8s} {'steps':>6s} {'seconds':>8s} {'FID mean':>9s} {'per seed':>14s} {'covered':>8s}")
    for (arm, mode), rows in groups.items():
        fids = [row["classifier_fid"] for row in rows]
        steps = statistics.mean(row["steps"] for row in rows)
        seconds = statistics.mean(row["train_seconds"] for row in rows)
        print(f"{arm:18s} {mode:8s} {steps:6.0f} {seconds:8.0f} {statistics.mean(fids):9.2f} {' '.join(f'{f:.2f}' for f in fids):>14s} "
              f"{' '.join(str(int(row['modes_covered'])) for row in rows):>8s}")


DATA_ROOT = "../shared/data"

if __name__ == "__main__":
    main()
