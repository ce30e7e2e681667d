"""The one user-facing error type.

Anything a user can get wrong (an unknown component name, an impossible
combination, missing data, a corrupt checkpoint) raises :class:`GanzooError`.
The CLI turns it into a single line on stderr and exit code 2. Every other
exception is a bug and is allowed to show its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GanzooError(Exception):
    """A problem with the user's input or environment, reported as one line.

    Plugins raise it too, e.g. an architecture asked to build for a data
    shape it cannot produce.
    """


def unknown_choice(kind: str, value: str, choices: Iterable[str], where: str = "") -> GanzooError:
    """Build the error for an unknown name, with a did-you-mean and the valid choices.

    ``where`` (e.g. "for architecture 'mlp'") follows the name in the message.
    """
    choices = sorted(choices)
    close = difflib.get_close_matches(value, choices, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    valid = ", ".join(choices) if choices else "none installed"
    place = f" {where}" if where else ""
    return GanzooError(f"unknown {kind} '{value}'{place}.{hint} Valid choices: {valid}.")
