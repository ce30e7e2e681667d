"""``--reg pl``: StyleGAN2's path-length penalty on the generator, against its formula and through runs."""

from __future__ import annotations

import json
import math

import torch
from torch import nn

import ganzoo
from ganzoo.registry import load_registry
from ganzoo.training.regularization import resolve_regularizers
from tests.helpers import assert_one_line_error, invoke, read_metrics, straight_and_resumed

NETS = ("--arch", "stylegan2", "--arch-option", "channel_base=128", "--arch-option", "channel_max=8",
        "--arch-option", "w_dim=16", "--arch-option", "mbstd_group=4", "--latent-dim", "16")


class LinearStyleGenerator(nn.Module):
    """mapping: z -> ws (N, 2, 4) by a fixed linear map; synthesis: ws -> images (N, 1, 4, 2) times a scale."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.mapping = nn.Sequential(nn.Linear(3, 8, bias=False), nn.Unflatten(1, (2, 4)))
        self.synthesis = nn.Sequential(nn.Flatten(1), nn.Unflatten(1, (1, 4, 2)))
        self.scale = scale
        self.synthesis.register_forward_hook(lambda module, inputs, output: output * scale)


def test_the_penalty_and_running_mean_follow_the_formula():
    term = load_registry().regularizer("pl").build(ganzoo.DataSpec((1, 4, 2)))
    generator = LinearStyleGenerator(scale=3.0)
    z = torch.randn(6, 3)
    batch = ganzoo.GeneratorBatch(generator, z, None, torch.zeros(6, 1, 4, 2))
    torch.manual_seed(5)
    penalty = term(batch)
    # synthesis is 3 * identity from ws (N, 2, 4) to images (N, 8 pixels): J^T y = 3 y, y ~ N(0, 1/8) per pixel;
    # half the batch (batch_shrink 2) is used, lengths averaged over the 2 copies of w.
    torch.manual_seed(5)
    noise = torch.randn(3, 1, 4, 2) / math.sqrt(8)
    lengths = (3 * noise).reshape(3, 2, 4).square().sum(-1).mean(1).sqrt()
    mean = 0.01 * lengths.mean()
    torch.testing.assert_close(term.mean_length, mean)
    torch.testing.assert_close(penalty, (lengths - mean).square().mean())
    torch.manual_seed(6)
    term(batch)
    assert 0 < term.mean_length < mean * 2.5  # the running mean moves by 1% of each new batch mean


def test_pl_is_a_lazy_generator_term_with_stylegan2s_defaults():
    registry = load_registry()
    regularizer = registry.regularizer("pl")
    assert regularizer.network == "generator" and not regularizer.needs_input_gradients
    (choice,) = resolve_regularizers(["pl"], registry.loss("bce"), registry)
    assert (choice.weight, choice.every, choice.options) == (2.0, 4, {"decay": 0.01, "batch_shrink": 2})
    (eager,) = resolve_regularizers(["pl:every=1,weight=1"], registry.loss("bce"), registry)
    assert (eager.weight, eager.every) == (1.0, 1)


def test_a_stylegan2_run_applies_it_every_fourth_generator_step_and_resumes_exactly(tmp_path, colour_data):
    args = (*NETS, "--loss", "bce", *colour_data, "--batch-size", 8, "--log-every", 1, "--reg", "pl", "--seed", 2,
            "--checkpoint-every", 100, "--steps", 5)
    straight, split = straight_and_resumed(args, 3, tmp_path)
    records = read_metrics(straight)
    penalties = [record["penalty"] for record in records]
    assert penalties[0] > 0 and penalties[4] > 0 and penalties[1:4] == [0.0, 0.0, 0.0]  # G updates 0 and 4
    assert [r["g_loss"] for r in read_metrics(split)] == [r["g_loss"] for r in records]
    resolved = json.loads((straight / "config.json").read_text())["resolved"]["regularizers"]
    assert resolved == [{"name": "pl", "weight": 2.0, "every": 4, "options": {"decay": 0.01, "batch_shrink": 2}}]


def test_pl_on_a_generator_without_mapping_and_synthesis_is_one_error_line(tmp_path):
    result = invoke("run", "--arch", "dcgan", "--arch-option", "base_width=8", "--loss", "bce", "--data", "mnist-mini",
                    "--batch-size", 8, "--steps", 1, "--reg", "pl", "--out", tmp_path / "run")
    assert_one_line_error(result, "--reg pl", "mapping and synthesis", "stylegan2")
