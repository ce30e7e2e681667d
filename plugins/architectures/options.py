"""Parsing architecture options typed on the command line: positive ints, and widths that may be ``auto``."""

from __future__ import annotations

from typing import Any

import ganzoo


def positive_int(value: Any, option: str, arch: str) -> int:
    """``value`` (an int or its text) as a positive int; GanzooError naming ``option`` otherwise."""
    number = 0
    if not isinstance(value, bool):
        try:
            number = int(str(value).strip())
        except ValueError:
            pass
    if number <= 0:
        raise ganzoo.GanzooError(f"{arch} option {option} must be a positive int; got {value!r}")
    return number


def width_option(value: Any, reference: int, multiple: int, option: str, arch: str) -> int:
    """``value`` as a width: ``auto`` is ``reference``; else a positive multiple of ``multiple``, or a GanzooError."""
    if str(value).strip().lower() == "auto":
        return reference
    try:
        width = positive_int(value, option, arch)
    except ganzoo.GanzooError:
        width = 0
    if width <= 0 or width % multiple:
        needs = "a positive int" if multiple == 1 else f"a positive multiple of {multiple} at this size"
        raise ganzoo.GanzooError(f"{arch} option {option} must be {needs} or auto; got {value!r}")
    return width
