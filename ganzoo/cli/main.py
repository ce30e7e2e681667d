"""The ``ganzoo`` click group, its one-line usage errors, and the console-script entry point."""

from __future__ import annotations

import os
import sys
from typing import Any

import click
import torch

from ganzoo.cli.animate import animate_command
from ganzoo.cli.augment import augment_command
from ganzoo.cli.bench import bench_command
from ganzoo.cli.common import UserError
from ganzoo.cli.eval import eval_command
from ganzoo.cli.interpolate import interpolate_command
from ganzoo.cli.nearest import nearest_command
from ganzoo.cli.plugins import list_plugins_command
from ganzoo.cli.recipes import recipes_command
from ganzoo.cli.report import report_command
from ganzoo.cli.run import run_command
from ganzoo.cli.sample import sample_command
from ganzoo.version import __version__

# click >= 8.2 signals "no arguments, show help" with a UsageError subclass; older clicks exit directly.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class OneLineErrorGroup(click.Group):
    """A group whose usage errors (bad option values, unknown commands) print as one line too."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except _NO_ARGS_IS_HELP:
            raise
        except click.UsageError as error:
            raise UserError(error.format_message()) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            raise UserError(error.format_message()) from None


@click.group(cls=OneLineErrorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganzoo")
def cli() -> None:
    """ganzoo: train and compare GANs built from plugins."""


for _command in (run_command, list_plugins_command, recipes_command, sample_command, interpolate_command,
                 animate_command, nearest_command, eval_command, augment_command, bench_command, report_command):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    try:
        cli(obj={})
    except SystemExit as exit:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # A run under torchrun stopped with an error and its process group still open: leave at once with
            # ganzoo's exit code, since tearing gloo down while other ranks are gone aborts the process.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exit.code if isinstance(exit.code, int) else 1)
        raise
