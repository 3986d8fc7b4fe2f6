"""The ``prompteur`` command. Each subcommand is a module imported only when used; library
errors become one-line messages and exit codes here, and only here.

Exit codes: 0 success, 1 some test cases failed or errored, 2 bad input or usage,
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import Any

import click

from .._version import __version__

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_COMMANDS = {
    "cache": ("prompteur.cli._cache", "cache_command"),
    "compare": ("prompteur.cli._compare", "compare_command"),
    "eval": ("prompteur.cli._eval", "eval_command"),
    "history": ("prompteur.cli._history", "history_command"),
    "init": ("prompteur.cli._init", "init_command"),
    "prompts": ("prompteur.cli._prompts", "prompts_command"),
    "rate": ("prompteur.cli._rate", "rate_command"),
    "runs": ("prompteur.cli._runs", "runs_command"),
    "schema": ("prompteur.cli._schema", "schema_command"),
    "show": ("prompteur.cli._runs", "show_command"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module, attribute = _COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except Exception as exc:
            from ..errors import PrompteurError

            if not isinstance(exc, PrompteurError) or debug_enabled(ctx):
                raise
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)


def debug_enabled(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.params.get("debug")) or os.environ.get("PROMPTEUR_DEBUG") == "1"


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="prompteur")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """prompteur: design, test and compare prompts across models.

    \b
    Exit codes: 0 all passed (or pass rate at least --pass-threshold),
    1 some test cases failed or errored, 2 bad input or usage, 130 interrupted.
    """


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    try:
        cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="prompteur")
    finally:
        # The objects of a large run need no garbage-collection pass at interpreter exit.
        gc.freeze()
