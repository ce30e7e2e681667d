"""Recipes: ``ganzoo recipes`` lists them, ``ganzoo run --recipe`` trains them under the user's overrides."""

from __future__ import annotations

import json
import types

import pytest

import ganzoo
from ganzoo.registry import load_registry
from ganzoo.registry.options import resolve_options
from ganzoo.storage.recipes import config_from_recipe
from tests.helpers import assert_one_line_error, invoke

TINY = ganzoo.Recipe(
    name="tiny-ring",
    description="a small MLP GAN on ring8, for tests",
    paper="Test et al. 2026, A Recipe",
    reference="tests/cli/test_recipes.py",
    settings={"arch": "mlp", "loss": "hinge", "data": "ring8", "batch_size": 16, "steps": 3, "lr_d": 3e-4,
              "betas": (0.0, 0.9), "arch_options": {"generator_widths": (16,), "discriminator_widths": (16,)},
              "regularizers": ["r1:gamma=1"]},
    published="FID 1.0 (made up)",
    version=3,
)


def recipe_plugin(*recipes: ganzoo.Recipe) -> types.ModuleType:
    module = types.ModuleType("test_recipes_plugin")

    def register_recipes(register):
        for recipe in recipes:
            register(recipe)

    module.register_recipes = ganzoo.hookimpl(register_recipes)
    return module


def test_every_builtin_recipe_resolves_to_exactly_the_settings_it_documents():
    registry = load_registry()
    names = registry.names("recipes")
    assert {"vanilla-gan-mnist", "dcgan-cifar10", "lsgan-cifar10", "wgan-gp-cifar10", "sndcgan-cifar10",
            "sngan-cifar10", "sngan-proj-cifar10", "sagan-cifar10", "biggan-cifar10", "biggan-diffaugment-cifar10",
            "biggan-lecam-cifar10", "stylegan2-cifar10", "stylegan2-ada-cifar10", "infogan-mnist"} <= set(names)
    for name in names:
        recipe = registry.recipe(name)
        assert recipe.paper and recipe.reference and recipe.description, name
        recorded = config_from_recipe(recipe, {}).to_json()
        assert recorded["recipe"] == name
        for key, value in recipe.to_json()["settings"].items():
            assert recorded[key] == value, (name, key)
        architecture = registry.architecture(recorded["arch"])  # every component it names is installed
        registry.loss(recorded["loss"]), registry.dataset(recorded["data"])
        resolve_options(architecture.options, recorded["arch_options"], owner=name, flag="--arch-option")
        for spec in recorded["regularizers"] or ():
            registry.regularizer(spec.split(":")[0])
        for spec in recorded["augmentations"]:
            registry.augmentation(spec.split(":")[0])


def test_recipes_lists_each_with_paper_and_figures_and_shows_one_recipe():
    listing = invoke("recipes", "--json", extra_plugins=[recipe_plugin(TINY)])
    assert listing.exit_code == 0, listing.output
    entry = next(item for item in json.loads(listing.output) if item["name"] == "tiny-ring")
    assert entry["version"] == 3 and entry["published"] == "FID 1.0 (made up)" and entry["settings"]["betas"] == [0.0, 0.9]
    table = invoke("recipes", extra_plugins=[recipe_plugin(TINY)])
    assert table.exit_code == 0 and "tiny-ring" in table.output and "sngan-cifar10" in table.output
    shown = invoke("recipes", "tiny-ring", extra_plugins=[recipe_plugin(TINY)])
    assert shown.exit_code == 0 and "lr_d: 0.0003" in shown.output and "Test et al. 2026" in shown.output


def test_a_run_from_a_recipe_takes_its_settings_under_the_users_options_and_records_both(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "--recipe", "tiny-ring", "--steps", 2, "--arch-option", "discriminator_widths=8",
                    "--out", out, extra_plugins=[recipe_plugin(TINY)])
    assert result.exit_code == 0, result.output
    recorded = json.loads((out / "config.json").read_text())
    config, resolved = recorded["config"], recorded["resolved"]
    assert config["recipe"] == "tiny-ring" and config["lr_d"] == 3e-4 and config["betas"] == [0.0, 0.9]
    assert config["steps"] == 2 and resolved["total_steps"] == 2  # the user's --steps wins
    # --arch-option changes one of the recipe's architecture options, not all of them
    assert resolved["arch_options"] == {"generator_widths": [16], "discriminator_widths": [8]}
    assert [choice["name"] for choice in resolved["regularizers"]] == ["r1"]
    assert recorded["recipe"]["name"] == "tiny-ring" and recorded["recipe"]["version"] == 3
    assert recorded["recipe"]["settings"]["lr_d"] == 3e-4
    assert recorded["recipe"]["overridden"] == ["arch_options", "steps"]
    assert recorded["plugins"]["recipes"]["name"] == "tiny-ring"
    rerun = invoke("run", "--config", out, "--out", tmp_path / "again", extra_plugins=[recipe_plugin(TINY)])
    assert rerun.exit_code == 0, rerun.output
    again = json.loads((tmp_path / "again" / "config.json").read_text())
    assert again["config"] == config


@pytest.mark.parametrize("args, fragments", [
    (("--recipe", "nope"), ["unknown recipe 'nope'", "tiny-ring"]),
    (("--recipe", "tiny-ring", "--resume", "somewhere"), ["--recipe cannot be combined with --resume"]),
])
def test_bad_recipe_use_is_one_error_line(tmp_path, args, fragments):
    result = invoke("run", *args, "--out", tmp_path / "run", extra_plugins=[recipe_plugin(TINY)])
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "run").exists()


def test_a_recipe_with_an_unknown_or_mistyped_setting_is_an_error_naming_it(tmp_path):
    unknown = ganzoo.Recipe(name="bad-key", description="d", paper="p", reference="r",
                            settings={**TINY.settings, "learning_rate": 1e-3})
    mistyped = ganzoo.Recipe(name="bad-type", description="d", paper="p", reference="r",
                             settings={**TINY.settings, "steps": "many"})
    plugin = recipe_plugin(unknown, mistyped)
    assert_one_line_error(invoke("run", "--recipe", "bad-key", "--out", tmp_path / "a", extra_plugins=[plugin]),
                          "recipe 'bad-key'", "'learning_rate'", "valid options")
    assert_one_line_error(invoke("run", "--recipe", "bad-type", "--out", tmp_path / "b", extra_plugins=[plugin]),
                          "--steps", "recipe 'bad-type'", "many")


def test_a_recipe_that_names_no_architecture_fails_its_registration():
    headless = ganzoo.Recipe(name="headless", description="d", paper="p", reference="r",
                             settings={"loss": "bce", "data": "ring8"})
    listing = invoke("list-plugins", "--json", extra_plugins=[recipe_plugin(headless)])
    errors = [e for plugin in json.loads(listing.output) for e in plugin["errors"]]
    assert any("headless" in e and "arch" in e for e in errors), errors
