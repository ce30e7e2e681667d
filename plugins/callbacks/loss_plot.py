"""``losses.png``: a plot of the discriminator and generator losses, written when a run ends."""

from __future__ import annotations

import json
from pathlib import Path

import ganzoo
from ganzoo import atomic_path

PLOT_FILE = "losses.png"


def plot_losses(metrics_path: Path, output: Path) -> bool:
    """Plot the D/G losses (and the penalty, when there is one) logged in ``metrics_path``.

    Returns False, writing nothing, when no losses were logged.
    """
    records = []
    for line in metrics_path.read_text().splitlines() if metrics_path.exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a crash
        if "d_loss" in record:
            records.append(record)
    if not records:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in records]
    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    axes.plot(steps, [r["d_loss"] for r in records], label="D loss")
    axes.plot(steps, [r["g_loss"] for r in records], label="G loss")
    if any(r.get("penalty") for r in records):
        axes.plot(steps, [r.get("penalty", 0.0) for r in records], label="D penalty", linestyle="--")
    axes.set_xlabel("step")
    axes.set_ylabel("loss (mean over each log window)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_path(output) as temp:
        figure.savefig(str(temp))
    plt.close(figure)
    return True


@ganzoo.hookimpl
def on_run_end(run: ganzoo.RunContext, step: int, interrupted: bool) -> None:
    """Write ``RUN/losses.png`` at the end of every run, interrupted ones included."""
    plot_losses(run.run_dir / "metrics.jsonl", run.run_dir / PLOT_FILE)
