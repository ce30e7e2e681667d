"""What every command shares: one-line errors, safe paths, the plugin registry, plain-text output."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
from rich.text import Text

from ganzoo.api.progress import ProgressDisplay
from ganzoo.contract.progress import showing_progress
from ganzoo.distributed.agreement import AgreedError
from ganzoo.distributed.launch import launch_from_environment
from ganzoo.errors import GanzooError
from ganzoo.registry import Registry, load_registry
from ganzoo.storage.config import MAX_SEED
from ganzoo.training.divergence import EXIT_DIVERGED, DivergedError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM gives 143


class UserError(click.ClickException):
    """A :class:`GanzooError` on its way to the terminal: one line, exit code 2.

    Control characters (a newline in a name the user typed) are shown escaped,
    so the message stays one line whatever it quotes.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, quiet: bool = False) -> None:
        super().__init__("".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in message))
        self.quiet = quiet

    def show(self, file: Any = None) -> None:
        if not self.quiet:
            super().show(file)


class DivergedExit(UserError):
    """A run stopped by NaN/Inf: one line, exit code 3, so scripts can tell it from a usage error."""

    exit_code = EXIT_DIVERGED


class SafePath(click.Path):
    """``click.Path`` that reports a NUL byte as a usage error (click's raises ValueError)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "\x00" in value:
            self.fail(f"{value!r} contains a NUL character", param, ctx)
        return super().convert(value, param, ctx)


def output_option(help: str, default: str | None = None, **path_options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The output location, spelled the same in every command: ``-o/--out`` (``--output`` also accepted)."""
    return click.option("-o", "--out", "--output", "out", type=SafePath(**path_options), default=default,
                        show_default=default is not None, help=help)


def positive_int() -> click.IntRange:
    """An option type for counts that must be at least 1."""
    return click.IntRange(min=1)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn GanzooError into a one-line message and exit code 2 (3 for a diverged run), and show long
    steps (:func:`ganzoo.progress_task`) on stderr while the command runs.

    Under torchrun the N processes would print N copies of the same line: an
    error all ranks raised together (a failed check, a divergence) is printed
    by rank 0 alone, any other by the first process of each node.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with showing_progress(ProgressDisplay() if _prints(agreed=True) else None):
                return command(*args, **kwargs)
        except DivergedError as error:  # decided by all ranks together
            raise DivergedExit(str(error), quiet=not _prints(agreed=True)) from None
        except GanzooError as error:
            raise UserError(str(error), quiet=not _prints(isinstance(error, AgreedError))) from None

    return wrapper


def _prints(agreed: bool) -> bool:
    """Whether this process prints an error (see :func:`reports_errors`)."""
    try:
        launch = launch_from_environment()
    except GanzooError:
        return True
    return launch.is_main if agreed else launch.local_rank == 0


def one_process_only(command: str) -> None:
    """Refuse a command other than ``run`` under torchrun: N copies would write the same files."""
    if launch_from_environment().world_size > 1:
        raise AgreedError(f"ganzoo {command} runs in one process; start it without torchrun "
                          "(ganzoo run trains on several; ganzoo bench --nproc-per-cell starts torchrun itself)")


def registry_of(ctx: click.Context) -> Registry:
    """The plugin registry, loaded once per command (tests may pass extra plugins via ``obj``)."""
    obj = ctx.find_root().ensure_object(dict)
    if "registry" not in obj:
        obj["registry"] = load_registry(obj.get("extra_plugins", ()))
    return obj["registry"]


def names(text: str, flag: str) -> list[str]:
    """The non-empty items of a comma-separated option value."""
    items = [name.strip() for name in text.split(",") if name.strip()]
    if not items:
        raise GanzooError(f"{flag} needs at least one name")
    return items


def seeds(text: str, flag: str = "--seeds") -> list[int]:
    """A comma-separated list of integer seeds, each in ``0..MAX_SEED`` like ``ganzoo run --seed``."""
    try:
        values = [int(seed) for seed in names(text, flag)]
    except ValueError:
        raise GanzooError(f"{flag} expects integers like 0,1,2, got '{text}'") from None
    outside = [value for value in values if not 0 <= value <= MAX_SEED]
    if outside:
        raise GanzooError(f"{flag}: seeds must lie in 0..{MAX_SEED} (32 bits), got {outside[0]}")
    return values


def seed_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--seed`` for sampling commands: the same 32-bit range as ``ganzoo run --seed``."""
    return click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True, help=help)


def plain(text: object, style: str = "") -> Text:
    """Text shown literally: plugin-supplied strings may contain rich markup such as ``[/]``."""
    return Text(str(text), style=style)
