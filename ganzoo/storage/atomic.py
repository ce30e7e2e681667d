"""Write files so that a crash never leaves half of one behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by the owner only; finished files get the usual permissions.
_FILE_MODE = 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    The temporary name keeps ``path``'s suffix so writers that pick a format
    from the extension (PIL, matplotlib) still work.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    temp = Path(temp_name)
    try:
        yield temp
        os.chmod(temp, _FILE_MODE)  # after writing: some writers replace the file they are given
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as temp:
        temp.write_text(text)


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append one line to ``path`` and flush it, so a crash loses at most this line.

    If a crash tore the file's last line (no newline at the end), the new line
    starts on a line of its own instead of being glued to the torn one.
    """
    with open(path, "ab") as handle:
        if handle.tell() > 0:
            with open(path, "rb") as reader:
                reader.seek(-1, os.SEEK_END)
                if reader.read(1) != b"\n":
                    handle.write(b"\n")
        handle.write(line.rstrip("\n").encode() + b"\n")
        handle.flush()


def remove_temporary_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Delete what a process killed mid-write leaves; returns the paths removed.

    That is :func:`atomic_path`'s ``.NAME.XXXX.tmp.EXT`` files, and the ``.tmpXXXXXX`` files that safetensors
    (0.8 and later) writes through before renaming onto the path it was given (Rust's ``tempfile`` names).
    """
    removed = []
    for temp in Path(directory).rglob(".*tmp*"):
        if temp.is_file() and (".tmp" in temp.name[1:] or temp.name.startswith(".tmp")):
            temp.unlink(missing_ok=True)
            removed.append(temp)
    return removed
