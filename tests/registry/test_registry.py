"""Plugin loading: built-ins through entry points, in-process plugins, broken plugins, duplicates."""

from __future__ import annotations

import json
import types

import torch

import ganzoo
from ganzoo.registry import load_registry
from tests.helpers import assert_one_line_error, invoke, run_cli

BUILTIN_COMPONENTS = {
    "architectures": {"mlp", "dcgan", "cmlp", "cdcgan", "standard-cnn", "sngan", "sngan-projection", "sagan",
                      "sagan-unconditional", "stylegan2", "stylegan2-conditional", "biggan", "biggan-unconditional", "infogan"},
    "losses": {"bce", "minimax", "mse", "wgan", "wgan-gp", "hinge", "ragan", "rahinge"},
    "datasets": {"mnist", "cifar10", "folder", "ring8", "grid25", "mnist-mini"},
    "metrics": {"fid", "is", "kid", "prc", "classifier", "cas", "modes"},
    "loggers": {"tensorboard", "wandb", "mlflow"},
    "regularizers": {"gp", "dragan", "r1", "r2", "lecam", "cr", "pl"},
    "augmentations": {"diffaugment", "ada", "flip"},
    "recipes": {"vanilla-gan-mnist", "dcgan-cifar10", "lsgan-cifar10", "wgan-gp-cifar10", "sndcgan-cifar10",
                "sngan-cifar10", "sngan-proj-cifar10", "sagan-cifar10", "stylegan2-cifar10", "stylegan2-ada-cifar10",
                "biggan-cifar10", "biggan-diffaugment-cifar10", "biggan-lecam-cifar10", "infogan-mnist"},
}


class DoubleLoss(ganzoo.Loss):
    """A loss that is twice BCE's, for registration tests."""

    name = "double-bce"
    description = "twice the non-saturating loss"

    def discriminator_loss(self, real_logits, fake_logits):
        return 2 * (torch.nn.functional.softplus(-real_logits).mean() + torch.nn.functional.softplus(fake_logits).mean())

    def generator_loss(self, fake_logits):
        return 2 * torch.nn.functional.softplus(-fake_logits).mean()


def plugin_module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        function.__name__ = hook_name
        setattr(module, hook_name, ganzoo.hookimpl(function))
    return module


def test_builtins_are_loaded_through_entry_points():
    listing = json.loads(invoke("list-plugins", "--json").output)
    builtins = [plugin for plugin in listing if plugin["builtin"]]
    assert {p["distribution"] for p in builtins} == {"ganzoo"}
    assert all(p["errors"] == [] for p in builtins), [p["errors"] for p in builtins]
    for kind, names in BUILTIN_COMPONENTS.items():
        found = {item["name"] for p in builtins for item in p[kind]}
        assert found == names
        assert all(item["description"] for p in builtins for item in p[kind])
    assert {p["name"]: p["hooks"] for p in builtins}["wgan-gp"] == ["register_losses"]


def test_list_plugins_table_shows_components_and_sources():
    result = invoke("list-plugins")
    assert result.exit_code == 0
    for text in ("torchvision-datasets", "built-in", "wgan-gp", "dcgan", "ring8"):
        assert text in result.output


def test_an_in_process_plugin_registers_and_trains(tmp_path):
    module = plugin_module("double", register_losses=lambda register: register(DoubleLoss()))
    registry = load_registry(extra_plugins=[module])
    assert isinstance(registry.loss("double-bce"), DoubleLoss)
    out = tmp_path / "run"
    result = invoke("run", "--arch", "mlp", "--loss", "double-bce", "--data", "ring8", "--steps", 2,
                    "--out", out, extra_plugins=[module])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["plugins"]["losses"]["plugin"] == "double"


def test_a_misspelled_hook_is_reported_and_the_rest_still_works():
    module = plugin_module("typo", register_loses=lambda register: register(DoubleLoss()))
    registry = load_registry(extra_plugins=[module])
    typo = next(p for p in registry.plugins if p.name == "typo")
    assert typo.errors and "unknown hook 'register_loses'" in typo.errors[0]
    assert "bce" in registry.names("losses") and "double-bce" not in registry.names("losses")


def test_invalid_registrations_are_rejected_with_the_reason():
    class BadDefaults(DoubleLoss):
        name = "bad-defaults"
        defaults = {"learning_rate": 0.1}

    class BadName(DoubleLoss):
        name = "Bad_Name"

    cases = {
        "not-a-loss": (lambda register: register(object()), "is not a ganzoo.Loss"),
        "bad-defaults": (lambda register: register(BadDefaults()), "unknown defaults ['learning_rate']"),
        "bad-name": (lambda register: register(BadName()), "not kebab-case"),
        "half": (lambda register: (register(DoubleLoss()), 1 / 0), "ZeroDivisionError"),
    }
    modules = [plugin_module(name, register_losses=hook) for name, (hook, _) in cases.items()]
    registry = load_registry(extra_plugins=modules)
    for name, (_, message) in cases.items():
        info = next(p for p in registry.plugins if p.name == name)
        assert info.errors and message in info.errors[0], (name, info.errors)
    # A plugin that failed half-way registers nothing.
    assert "double-bce" not in registry.names("losses")


def test_a_duplicate_name_means_nothing_until_resolved(tmp_path):
    class ImpostorBCE(DoubleLoss):
        name = "bce"

    module = plugin_module("impostor", register_losses=lambda register: register(ImpostorBCE()))
    listing = json.loads(invoke("list-plugins", "--json", extra_plugins=[module]).output)
    impostor = next(p for p in listing if p["name"] == "impostor")
    assert impostor["errors"] == ["loss 'bce' is also registered by plugin 'divergence-losses'"]
    result = invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 1,
                    "--out", tmp_path / "run", extra_plugins=[module])
    assert_one_line_error(result, "loss 'bce' is registered by both 'divergence-losses' and 'impostor'", "GANZOO_PLUGINS")
    assert not (tmp_path / "run").exists()


def test_a_plugin_that_fails_to_import_is_listed_and_others_work(tmp_path):
    site = tmp_path / "site"
    (site / "broken_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "broken_plugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (site / "broken_plugin-1.0.dist-info" / "entry_points.txt").write_text("[ganzoo]\nbroken = broken_plugin\n")
    (site / "broken_plugin.py").write_text("raise RuntimeError('this plugin is broken on purpose')\n")
    env = {"PYTHONPATH": str(site)}

    listed = run_cli("list-plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    broken = next(p for p in json.loads(listed.stdout) if p["name"] == "broken")
    assert broken["distribution"] == "broken-plugin" and broken["builtin"] is False
    assert broken["errors"] == ['Error importing plugin "broken": RuntimeError: this plugin is broken on purpose']

    ran = run_cli("run", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 1, "--out", tmp_path / "r", env=env)
    assert ran.returncode == 0, ran.stderr

    pinned = run_cli("list-plugins", "--json", env={**env, "GANZOO_PLUGINS": "mlp,divergence-losses"})
    # ganzoo's own run-following callbacks (no components) load whatever the pin says.
    assert [p["name"] for p in json.loads(pinned.stdout)] == ["mlp", "divergence-losses", "loss-plot", "run-summary"]


def test_a_pinned_run_still_writes_its_summary_and_loss_plot(tmp_path):
    out = tmp_path / "run"
    result = run_cli("run", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 2, "--log-every", 1,
                     "--out", out, env={"GANZOO_PLUGINS": "mlp,divergence-losses,toy-mixtures"})
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "summary.json").read_text())["stopped"] == "finished"
    assert (out / "losses.png").is_file()


def test_pinning_an_unknown_plugin_is_an_error():
    result = run_cli("list-plugins", env={"GANZOO_PLUGINS": "mlp,no-such-plugin"})
    assert_one_line_error(result, "unknown plugin in GANZOO_PLUGINS 'no-such-plugin'", "divergence-losses")


def test_registering_an_installed_module_again_keeps_the_installed_copy():
    import ganzoo_plugins.losses.hinge as hinge_module

    registry = load_registry(extra_plugins=[hinge_module])
    duplicate = next(p for p in registry.plugins if p.name == "ganzoo_plugins.losses.hinge")
    assert duplicate.errors == ['plugin "ganzoo_plugins.losses.hinge" is already loaded as "hinge"; not loaded twice']
    assert registry.plugin_of("losses", "hinge").name == "hinge"


def test_an_entry_point_name_clash_is_reported_not_silent(tmp_path):
    site = tmp_path / "site"
    info = site / "clashing-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: clashing\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[ganzoo]\nhinge = clashing_plugin\n")
    (site / "clashing_plugin.py").write_text("")
    listed = run_cli("list-plugins", "--json", env={"PYTHONPATH": str(site)})
    plugins = json.loads(listed.stdout)
    hinge = [p for p in plugins if p["name"] == "hinge"]
    assert len(hinge) == 2
    loaded, refused = sorted(hinge, key=lambda p: bool(p["errors"]))
    assert loaded["errors"] == [] and refused["errors"]
    assert "already used by" in refused["errors"][0] and "not loaded" in refused["errors"][0]


def exploding_plugin(hook: str, at_step: int = 3) -> types.ModuleType:
    """An in-process plugin whose ``hook`` raises (at ``at_step`` for hooks that get a step)."""
    module = types.ModuleType("exploding")

    def explode(run, **kwargs):
        if kwargs.get("step", at_step) == at_step:
            raise RuntimeError("boom")

    impl = {
        "on_run_start": lambda run: explode(run),
        "on_step_end": lambda run, step, record: explode(run, step=step),
        "on_checkpoint": lambda run, step, path: explode(run, step=step),
    }[hook]
    impl.__name__ = hook
    setattr(module, hook, ganzoo.hookimpl(impl))
    return module


TINY = ("--arch", "mlp", "--loss", "bce", "--data", "ring8", "--batch-size", "16",
        "--arch-option", "generator_widths=16", "--arch-option", "discriminator_widths=16")


def test_a_hook_that_raises_at_run_time_stops_the_run_with_a_checkpoint_and_its_name(tmp_path):
    from ganzoo.storage.checkpoint import read_checkpoint
    from tests.helpers import assert_error_after_progress

    out = tmp_path / "run"
    result = invoke("run", *TINY, "--steps", 6, "--checkpoint-every", 100, "--out", out,
                    extra_plugins=[exploding_plugin("on_step_end")])
    assert_error_after_progress(result, "plugin 'exploding' (in-process) failed in on_step_end: RuntimeError: boom",
                                "checkpoint of step 3 saved", "GANZOO_PLUGINS", f"continue with: ganzoo run --resume {out}")
    assert read_checkpoint(out / "checkpoints" / "state.safetensors", "training-state")[1]["step"] == 3
    # Without the plugin the run continues from there.
    assert invoke("run", "--resume", out, "--steps", 6).exit_code == 0

    early = tmp_path / "early"
    result = invoke("run", *TINY, "--steps", 6, "--out", early, extra_plugins=[exploding_plugin("on_run_start")])
    assert_error_after_progress(result, "failed in on_run_start", "checkpoint of step 0 saved")
    assert invoke("run", "--resume", early, "--steps", 2).exit_code == 0


def write_distribution(site, distribution: str, module: str, entry_point: str, source: str) -> None:
    """Install a one-module plugin distribution into ``site`` (a directory on the path)."""
    info = site / f"{distribution.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[ganzoo]\n{entry_point} = {module}\n")
    (site / f"{module}.py").write_text(source)


def test_run_names_the_distribution_of_a_failing_plugin(tmp_path, monkeypatch):
    import sys

    site = tmp_path / "site"
    write_distribution(site, "exploding-checkpoints", "exploding_checkpoints_plugin", "exploding",
                       "import ganzoo\n\n@ganzoo.hookimpl\ndef on_checkpoint(run, step, path):\n"
                       "    raise OSError('hook disk trouble')\n")
    write_distribution(site, "broken-losses", "broken_losses_plugin", "broken-losses", "raise ImportError('no luck')\n")
    monkeypatch.syspath_prepend(str(site))
    try:
        listing = json.loads(invoke("list-plugins", "--json").output)
        broken = next(p for p in listing if p["name"] == "broken-losses")
        assert broken["distribution"] == "broken-losses" and "ImportError: no luck" in broken["errors"][0]

        out = tmp_path / "run"
        result = invoke("run", *TINY, "--steps", 4, "--checkpoint-every", 2, "--out", out)
        from tests.helpers import assert_error_after_progress

        assert_error_after_progress(result, "plugin 'exploding' (distribution exploding-checkpoints 1.0) failed in "
                                    "on_checkpoint: OSError: hook disk trouble", "checkpoint of step 2 saved")
        # A name nobody registered points at the plugins that failed to load.
        result = invoke("run", *TINY, "--loss", "fancy", "--steps", 1, "--out", tmp_path / "other")
        assert_one_line_error(result, "unknown loss 'fancy'", "failed to load: 'broken-losses' (broken-losses 1.0)")
    finally:
        for name in ("exploding_checkpoints_plugin", "broken_losses_plugin"):
            sys.modules.pop(name, None)
