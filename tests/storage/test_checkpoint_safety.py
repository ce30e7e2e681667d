"""Files never run code, and a checkpoint that does not fit says what differs."""

from __future__ import annotations

import json
import os
import pickle
import shutil

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from tests.helpers import assert_one_line_error, invoke

TINY = ("--arch", "mlp", "--loss", "bce", "--data", "ring8", "--batch-size", "16", "--steps", "2",
        "--arch-option", "generator_widths=32", "--arch-option", "discriminator_widths=32")


class CreatesAFile:
    """Unpickling this runs ``open(marker, "w")``: the classic malicious pickle."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("safety") / "run"
    result = invoke("run", *TINY, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def malicious_files(directory, marker) -> dict[str, object]:
    """A raw pickle and a torch.save archive, under a .safetensors and a .pt name."""
    payload = CreatesAFile(str(marker))
    files = {}
    for name in ("generator.safetensors", "generator.pt"):
        files[f"pickle {name}"] = directory / f"pickle-{name}"
        files[f"pickle {name}"].write_bytes(pickle.dumps(payload))
        files[f"torch.save {name}"] = directory / f"torch-{name}"
        torch.save({"weights": payload}, files[f"torch.save {name}"])
    return files


def test_malicious_pickles_are_refused_by_every_command_and_never_run(tmp_path, trained):
    marker = tmp_path / "pwned"
    files = malicious_files(tmp_path, marker)
    for label, file in files.items():
        for command in (("sample", file, "-o", tmp_path / "s.png"), ("eval", file, "--metrics", "modes")):
            line = assert_one_line_error(invoke(*command), str(file))
            assert "never unpickles" in line and ("pickle" in line or "zip" in line), (label, line)
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    for file in files.values():
        shutil.copy(file, run / "checkpoints" / "state.safetensors")
        assert_one_line_error(invoke("run", "--resume", run, "--steps", 4), "never unpickles")
    assert not marker.exists(), "a file ran code"
    assert not (tmp_path / "s.png").exists()
    # The payload is live: what unpickling it would call does create the marker.
    call, arguments = CreatesAFile(str(marker)).__reduce__()
    call(*arguments).close()
    assert marker.exists()


def rewrite(path, change) -> None:
    """Rewrite a safetensors checkpoint with ``change(tensors, metadata)`` applied."""
    with safe_open(str(path), "pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        metadata = json.loads(handle.metadata()["ganzoo"])
    change(tensors, metadata)
    save_file(tensors, str(path), metadata={"ganzoo": json.dumps(metadata)})


@pytest.fixture
def copy(tmp_path, trained):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    return run


def test_a_state_from_another_architecture_is_refused_by_name(copy):
    rewrite(copy / "checkpoints" / "state.safetensors", lambda t, m: m.update(arch="dcgan"))
    assert_one_line_error(invoke("run", "--resume", copy, "--steps", 4),
                          "was written for arch 'dcgan', this run uses 'mlp'")


def test_a_shape_mismatch_names_the_tensor_and_both_shapes(copy, tmp_path):
    generator = copy / "checkpoints" / "generator.safetensors"
    rewrite(generator, lambda t, m: m["arch_options"].update(generator_widths=[16]))
    assert_one_line_error(invoke("sample", generator, "-o", tmp_path / "s.png"),
                          "generator.0.weight has shape [32, 100] in the file but [16, 100] in the model")
    state = copy / "checkpoints" / "state.safetensors"
    rewrite(state, lambda t, m: t.pop("discriminator.1.weight"))
    assert_one_line_error(invoke("run", "--resume", copy, "--steps", 4), "discriminator.1.weight is missing from the file")


def test_a_checkpoint_from_a_newer_ganzoo_is_refused_before_loading(copy, tmp_path):
    generator = copy / "checkpoints" / "generator.safetensors"
    rewrite(generator, lambda t, m: m.update(format=99))
    assert_one_line_error(invoke("sample", generator, "-o", tmp_path / "s.png"),
                          "checkpoint format 99 by a newer ganzoo", "reads format 1")


def test_a_safetensors_file_that_is_not_a_ganzoo_checkpoint_is_refused(tmp_path):
    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(2)}, str(foreign))
    assert_one_line_error(invoke("sample", foreign, "-o", tmp_path / "s.png"), "not a ganzoo checkpoint")
    assert os.path.getsize(foreign) > 0


def test_temporary_files_of_killed_writes_are_removed_and_nothing_else(tmp_path):
    from ganzoo.storage.atomic import remove_temporary_files

    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    ours = checkpoints / ".state.k2j4.tmp.safetensors"  # atomic_path's temporary name
    rusts = checkpoints / ".tmpLFovzx"  # what safetensors >= 0.8 writes through before its own rename
    kept = [checkpoints / "state.safetensors", checkpoints / ".hidden", tmp_path / "metrics.jsonl"]
    for path in (ours, rusts, *kept):
        path.write_bytes(b"x")
    assert sorted(remove_temporary_files(tmp_path)) == sorted([ours, rusts])
    assert all(path.exists() for path in kept) and not ours.exists() and not rusts.exists()
