"""The code's layout is part of its design: layers checked by import-linter, small modules, plugins on the public API.

docs/design.md describes the layers; pyproject.toml's ``[tool.importlinter]`` states them as contracts.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ganzoo
from tests.conftest import REPO

MAX_MODULE_LINES = 300
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "errors.py", "version.py"}
LINT_IMPORTS = shutil.which("lint-imports")
needs_import_linter = pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is not installed (pip install -e '.[dev]')")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run lint-imports on the packages found first on the path in ``root`` (PYTHONPATH), with the repo's contracts."""
    return subprocess.run([LINT_IMPORTS, str(root / "pyproject.toml"), "--no-cache"], capture_output=True, text=True,
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=300)


def copy_of_the_code(tmp_path: Path) -> Path:
    """ganzoo and ganzoo_plugins laid out as importable packages in ``tmp_path``, with the repo's pyproject."""
    shutil.copytree(REPO / "ganzoo", tmp_path / "ganzoo", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "plugins", tmp_path / "ganzoo_plugins", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@needs_import_linter
def test_the_import_contracts_hold(tmp_path):
    result = lint_imports(copy_of_the_code(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout, result.stdout


@needs_import_linter
@pytest.mark.parametrize(("module", "wrong_import", "contract"), [
    ("ganzoo/contract/components.py", "import ganzoo.training.trainer", "import only the layers below them"),
    ("ganzoo/storage/rundir.py", "from ganzoo.cli import main", "import only the layers below them"),
    ("ganzoo/evaluation/sampling.py", "import ganzoo.distributed.world", "import only the layers below them"),
    ("ganzoo_plugins/losses/hinge.py", "from ganzoo.storage.atomic import atomic_path",
     "import only ganzoo's public exports"),
    ("ganzoo/training/trainer.py", "import ganzoo_plugins.losses.hinge", "The engine imports no plugin"),
])
def test_a_wrong_way_import_breaks_a_contract(tmp_path, module, wrong_import, contract):
    root = copy_of_the_code(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n{wrong_import}  # deliberately wrong\n")
    result = lint_imports(root)
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if line.rstrip().endswith("BROKEN")]
    # The named contract breaks; an engine -> plugin import may also close a loop through ganzoo's top level
    # (a plugin imports ganzoo, which exports the Python API), which the layers contract flags as well.
    assert any(contract in line for line in broken), result.stdout
    assert len(broken) == 1 or "imports no plugin" in contract, result.stdout


@needs_import_linter
def test_a_new_top_level_package_must_be_placed_in_a_layer(tmp_path):
    root = copy_of_the_code(tmp_path)
    (root / "ganzoo" / "unplaced").mkdir()
    (root / "ganzoo" / "unplaced" / "__init__.py").write_text('"""Not in any layer."""\n')
    result = lint_imports(root)
    assert result.returncode != 0 and "unplaced" in result.stdout, result.stdout


def test_the_top_level_holds_only_subpackages_and_a_few_shared_modules():
    entries = {path.name for path in (REPO / "ganzoo").iterdir() if path.name != "__pycache__"}
    modules = {name for name in entries if name.endswith(".py")}
    assert modules == TOP_LEVEL_MODULES
    for name in entries - modules:
        package = REPO / "ganzoo" / name
        assert (package / "__init__.py").is_file(), f"ganzoo/{name} is not a package"
        assert ast.get_docstring(ast.parse((package / "__init__.py").read_text())), f"ganzoo/{name} has no docstring"


@pytest.mark.parametrize("folder", ["ganzoo", "plugins"])
def test_no_module_is_over_the_size_limit(folder):
    too_long = {str(path.relative_to(REPO)): count for path in (REPO / folder).rglob("*.py")
                if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_every_public_export_is_documented_for_plugin_authors():
    guide = (REPO / "docs" / "plugins.md").read_text()
    missing = [name for name in ganzoo.__all__ if name != "__version__" and f"`ganzoo.{name}" not in guide]
    assert not missing, f"exported but not in docs/plugins.md: {missing}"


def test_plugins_import_nothing_from_ganzoo_but_its_exports():
    # Also checked by import-linter above; this version needs no extra tool and names the line.
    offenders = []
    for path in (REPO / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(REPO)}:{node.lineno} {name}" for name in names
                          if name.startswith("ganzoo.")]
    assert not offenders, offenders


def test_python_dash_m_ganzoo_cli_still_runs():
    result = subprocess.run([sys.executable, "-m", "ganzoo.cli", "--version"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == f"ganzoo, version {ganzoo.__version__}", result
