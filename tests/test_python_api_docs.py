"""docs/python-api.md runs as written: its Python blocks, executed in order in an empty directory."""

from __future__ import annotations

import re

from tests.conftest import REPO

PAGE = REPO / "docs" / "python-api.md"


def test_every_python_block_of_the_api_page_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) >= 5, "the page lost its examples"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    namespace: dict = {}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{PAGE.name} block {number}", "exec"), namespace)  # noqa: S102
    assert (tmp_path / "digits.png").is_file()
    assert (tmp_path / "runs" / "digits" / "eval.jsonl").is_file()
