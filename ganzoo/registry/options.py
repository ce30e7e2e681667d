"""Component options: ``--arch-option KEY=VALUE`` parsing and merging.

A component declares its options as ``{name: default}``; a value typed on
the command line is converted to the type of the default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ganzoo.errors import GanzooError, unknown_choice

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_assignments(texts: Iterable[str], flag: str) -> dict[str, str]:
    """Split ``KEY=VALUE`` strings into a dict; GanzooError for malformed ones."""
    parsed: dict[str, str] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise GanzooError(f"{flag} expects KEY=VALUE, got '{text}'")
        parsed[key.strip()] = value.strip()
    return parsed


def parse_component_spec(text: str, flag: str) -> tuple[str, dict[str, str]]:
    """Split ``NAME[:KEY=VALUE,KEY=VALUE...]`` (``--reg``, ``--augment``) into the name and its options.

    A comma-separated part without ``=`` continues the previous value, so a
    list value needs no quoting: ``diffaugment:policy=color,translation``
    gives ``{"policy": "color,translation"}``.
    """
    name, _, rest = text.strip().partition(":")
    if not name.strip():
        raise GanzooError(f"{flag} expects NAME[:KEY=VALUE,...], got '{text}'")
    options: dict[str, str] = {}
    last = None
    for part in rest.split(",") if rest.strip() else ():
        key, sep, value = part.partition("=")
        if sep:
            if not key.strip():
                raise GanzooError(f"{flag} expects NAME[:KEY=VALUE,...], got '{text}'")
            last = key.strip()
            options[last] = value.strip()
        elif last is not None and part.strip():
            options[last] += "," + part.strip()
        else:
            raise GanzooError(f"{flag} expects NAME[:KEY=VALUE,...], got '{text}' ('{part}' has no '=')")
    return name.strip(), options


def convert_value(default: Any, text: str, what: str) -> Any:
    """Convert ``text`` to the type of ``default``; GanzooError naming ``what`` on failure."""
    if not isinstance(text, str):
        return text
    try:
        if isinstance(default, bool):
            lowered = text.lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, (tuple, list)):
            element = default[0] if default else ""
            return tuple(convert_value(element, part.strip(), what) for part in text.split(",") if part.strip())
    except (ValueError, GanzooError):
        raise GanzooError(
            f"{what} must be a {type(default).__name__} like {_show(default)}, got '{text}'"
        ) from None
    return text


def resolve_options(
    declared: Mapping[str, Any],
    user: Mapping[str, Any],
    preset: Mapping[str, Any] | None = None,
    *,
    owner: str,
    flag: str,
) -> dict[str, Any]:
    """Merge a component's option defaults, a preset (applied where declared) and the user's values.

    Args:
        declared: the component's ``options`` (name -> default).
        user: options the user gave (strings from the CLI, or typed values
            from a saved config); unknown names are an error.
        preset: values another component suggests (a loss's architecture
            options); names the component does not declare are ignored.
        owner: e.g. ``"architecture 'dcgan'"``, for messages.
        flag: e.g. ``"--arch-option"``, for messages.
    """
    resolved = dict(declared)
    for key, value in (preset or {}).items():
        if key in declared:
            resolved[key] = value
    for key, value in user.items():
        if key not in declared:
            if not declared:
                raise GanzooError(f"{owner} takes no options, got {flag} {key}=...")
            raise unknown_choice(f"{flag} key", key, declared, where=f"for {owner}")
        resolved[key] = convert_value(declared[key], value, f"{flag} {key}")
    return resolved


def _show(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)
