"""The ``prompteur`` command. Each subcommand is a module imported only when used; library
errors become one-line messages and exit codes here, and only here.

Exit codes: 0 success, 1 some test cases failed or errored, 2 bad input or usage,
130 interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import gc
import importlib
import os
import re
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
    "optimize": ("prompteur.cli._optimize", "optimize_command"),
    "prompts": ("prompteur.cli._prompts", "prompts_command"),
    "rate": ("prompteur.cli._rate", "rate_command"),
    "runs": ("prompteur.cli._runs", "runs_command"),
    "schema": ("prompteur.cli._schema", "schema_command"),
    "show": ("prompteur.cli._runs", "show_command"),
}


class _OneLineUsageError(click.ClickException):
    """A usage mistake shown as the one line every other bad input gets, with where to
    look for the right usage, rather than click's usage block."""

    exit_code = EXIT_USAGE

    def __init__(self, error: click.UsageError, ctx: click.Context) -> None:
        message = " ".join(error.format_message().split()).rstrip(".")
        # click's own guesses, in the form prompteur gives its guesses everywhere else
        message = re.sub(r"\. Did you mean (.*?)\??$", r" (did you mean \1?)", message)
        if error.ctx is not None:
            path = error.ctx.command_path
        elif ctx.invoked_subcommand:
            path = f"{ctx.command_path} {ctx.invoked_subcommand}"
        else:
            path = ctx.command_path
        if "did you mean" not in message.lower():
            message += _did_you_mean(message, error.ctx or ctx)
        path = " ".join(["prompteur", *path.split()[1:]])  # however the program was invoked
        super().__init__(f"{message} (see '{path} --help')")

    def show(self, file: Any = None) -> None:
        from ..core._secrets import redact_text

        click.echo(f"error: {redact_text(self.format_message())}", err=True)


def _did_you_mean(message: str, ctx: click.Context) -> str:
    """click names an unknown command without guessing what was meant; prompteur guesses
    for every other name, so it does here too."""
    from ..core._errors import did_you_mean

    found = re.match(r"No such command '([^']*)'", message)
    if found is None or not isinstance(ctx.command, click.Group):
        return ""
    return did_you_mean(found[1], ctx.command.list_commands(ctx))


class _LazyGroup(click.Group):
    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            context = exc.ctx or click.Context(self, info_name=info_name)
            raise _OneLineUsageError(exc, context) from None

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
        except click.UsageError as exc:
            raise _OneLineUsageError(exc, ctx) from None
        except click.ClickException:
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except Exception as exc:
            from ..core._errors import PrompteurError

            if not isinstance(exc, PrompteurError) or debug_enabled(ctx):
                raise
            from ..core._secrets import redact_text

            # a message may quote what it refuses: a base URL with its password, a key
            click.echo(f"error: {redact_text(str(exc))}", err=True)
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
