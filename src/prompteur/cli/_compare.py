"""``prompteur compare``: is B really better than A? Two runs, or two prompts or providers
inside one run, compared on the cases they share."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import EXIT_FAILED, EXIT_OK
from ._common import db_option, open_store, output_option, stdout_console, wrote

if TYPE_CHECKING:
    from ..eval._compare import Comparison, Outcome
    from ..store import CellOutcome, RunInfo, Store

Side = dict[Hashable, "Outcome | None"]


def _outcome(cell: CellOutcome) -> Outcome | None:
    from ..eval._compare import Outcome

    if cell.status == "error":
        return None
    return Outcome(cell.status == "pass", cell.case, cell.output, cell.human)


def _side(store: Store, info: RunInfo, key: Callable[[CellOutcome], Hashable | None]) -> Side:
    side: Side = {}
    for cell in store.outcomes(info.id):
        pairing = key(cell)
        if pairing is not None:
            side[pairing] = _outcome(cell)
    return side


def _pick(name: str, choices: list[tuple[str, str]], what: str) -> str:
    """A prompt or provider of a run, by name, label, or 1-based position."""
    for position, (ident, label) in enumerate(choices, start=1):
        if name in (ident, label, str(position)):
            return ident
    from ..errors import SuiteError

    known = ", ".join(f"{i}: {label}" for i, (_, label) in enumerate(choices, start=1))
    raise SuiteError(f"no {what} '{name}' in this run (it has {known})")


def _runs_comparison(store: Store, a: RunInfo, b: RunInfo) -> Comparison:
    from ..eval._compare import compare_outcomes

    # With one prompt (or provider) on each side, that is what is being compared: pair
    # the cells whatever it is called. Otherwise pair prompts and providers by name.
    same_prompt = len(a.prompts) == 1 and len(b.prompts) == 1
    same_provider = len(a.providers) == 1 and len(b.providers) == 1

    def key(cell: CellOutcome) -> Hashable:
        return (
            None if same_prompt else cell.prompt,
            None if same_provider else cell.provider,
            cell.test_key,
            cell.repeat,
        )

    return compare_outcomes(
        _side(store, a, key),
        _side(store, b, key),
        label_a=f"run {a.id} ({a.suite_name})",
        label_b=f"run {b.id} ({b.suite_name})",
    )


def _within_comparison(
    store: Store, info: RunInfo, prompts: tuple[str, str] | None, providers: tuple[str, str] | None
) -> Comparison:
    from ..eval._compare import compare_outcomes

    if prompts is not None:
        first, second = (_pick(p, info.prompts, "prompt") for p in prompts)

        def side_key(wanted: str) -> Callable[[CellOutcome], Hashable | None]:
            return lambda c: (c.provider, c.test_key, c.repeat) if c.prompt == wanted else None
    else:
        assert providers is not None
        first, second = (_pick(p, info.providers, "provider") for p in providers)

        def side_key(wanted: str) -> Callable[[CellOutcome], Hashable | None]:
            return lambda c: (c.prompt, c.test_key, c.repeat) if c.provider == wanted else None

    return compare_outcomes(
        _side(store, info, side_key(first)),
        _side(store, info, side_key(second)),
        label_a=f"{first} (run {info.id})",
        label_b=f"{second} (run {info.id})",
    )


def print_comparison(comparison: Comparison, max_cases: int) -> None:
    from rich.markup import escape

    console = stdout_console()
    c = comparison
    console.print(f"[bold]A[/] {escape(c.label_a)}\n[bold]B[/] {escape(c.label_b)}")
    extra = []
    if c.excluded:
        extra.append(f"{c.excluded} left out: an error on one side")
    if c.only_a or c.only_b:
        extra.append(f"{c.only_a} only in A, {c.only_b} only in B")
    console.print(f"shared cases: {c.pairs}" + (f" ({'; '.join(extra)})" if extra else ""))
    if c.pairs:
        assert c.a_rate is not None and c.b_rate is not None and c.difference is not None
        console.print(
            f"pass rate: A {c.a_rate:.1%} → B {c.b_rate:.1%}  ·  difference "
            f"{100 * c.difference:+.1f} points, 95% CI [{100 * c.ci_low:+.1f}, "
            f"{100 * c.ci_high:+.1f}] (paired bootstrap)"
        )
        console.print(
            f"McNemar exact p = {c.p_value:.4g}  ·  newly failing [red]{c.worsened}[/]"
            f"  ·  newly passing [green]{c.improved}[/]"
        )
    if c.human_a or c.human_b:
        console.print(
            f"[cyan]human verdicts used instead of the automatic grades: {c.human_a} cells "
            f"in A, {c.human_b} in B[/]"
        )
    style = {"B is better": "green", "B is worse": "red"}.get(c.verdict, "yellow")
    console.print(f"verdict: [bold {style}]{c.verdict}[/]")
    for title, pairs, total in (
        ("newly failing", c.newly_failing, c.worsened),
        ("newly passing", c.newly_passing, c.improved),
    ):
        if not pairs or max_cases <= 0:
            continue
        console.print(f"\n[bold]{title}[/] ({min(len(pairs), max_cases)} of {total} shown)")
        for left, right in pairs[:max_cases]:
            console.print(
                f"  {escape(left.label)}\n    [dim]A:[/] {escape(_excerpt(left.output))}"
                f"\n    [dim]B:[/] {escape(_excerpt(right.output))}"
            )


def _excerpt(text: str | None, limit: int = 90) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@click.command("compare")
@click.argument("run_a")
@click.argument("run_b", required=False)
@click.option(
    "--prompts",
    nargs=2,
    metavar="A B",
    help="Compare two prompts of one run (names, labels or positions).",
)
@click.option(
    "--providers",
    nargs=2,
    metavar="A B",
    help="Compare two providers of one run (labels or positions).",
)
@click.option(
    "--max-cases",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Newly failing / passing cases to print (and to list in a Markdown report).",
)
@output_option
@db_option
def compare_command(
    run_a: str,
    run_b: str | None,
    prompts: tuple[str, str] | None,
    providers: tuple[str, str] | None,
    max_cases: int,
    outputs: tuple[Path, ...],
    db: str | None,
) -> None:
    """Compare RUN_A with RUN_B, or two prompts or providers inside RUN_A, on shared cases.

    \b
    Reports newly failing and newly passing cases, the pass-rate difference with a 95%
    paired-bootstrap interval, McNemar's exact p-value, and a verdict. Exit code 1 when
    B is significantly worse, so it can gate a change in CI; 2 when the two sides share
    no case (nothing to compare).
    """
    for path in outputs:
        if path.suffix.lower() not in (".html", ".htm", ".md"):
            raise click.UsageError(f"unsupported comparison report {path.name}: use .html or .md")
    store = open_store(db)
    info_a = store.run(run_a)
    if (prompts or providers) and run_b is not None:
        raise click.UsageError("with --prompts or --providers, give one run")
    if prompts and providers:
        raise click.UsageError("compare prompts or providers, not both")
    if prompts or providers:
        comparison = _within_comparison(store, info_a, prompts, providers)
        infos = [info_a]
    else:
        if run_b is None:
            raise click.UsageError("give two runs, or one run with --prompts or --providers")
        info_b = store.run(run_b)
        comparison = _runs_comparison(store, info_a, info_b)
        infos = [info_a, info_b]
    if not comparison.pairs:
        from ..errors import PrompteurError
        from ..report._markdown import no_shared_cases

        # the reports say so too, where a pull request expects one
        write_comparison_reports(store, infos, comparison, outputs, max_cases)
        raise PrompteurError(
            f"{comparison.label_a} and {comparison.label_b}: {no_shared_cases(comparison)}"
        )
    print_comparison(comparison, max_cases)
    write_comparison_reports(store, infos, comparison, outputs, max_cases)
    click.get_current_context().exit(EXIT_FAILED if comparison.verdict == "B is worse" else EXIT_OK)


def write_comparison_reports(
    store: Store,
    infos: list[RunInfo],
    comparison: Comparison,
    outputs: tuple[Path, ...],
    max_cases: int = 10,
) -> None:
    from ..report._html import RunSection, render_html, write_atomically
    from ..report._markdown import render_markdown

    for path in outputs:
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            sections = []
            for info in infos:
                section = RunSection(
                    info.id, info.description or info.suite_name or "run", store.summary(info.id)
                )
                for result in store.results(info.id):
                    section.add(result)
                sections.append(section)
            write_atomically(path, render_html(sections, title="Comparison", comparison=comparison))
        else:
            write_atomically(
                path, render_markdown(None, comparison=comparison, max_cases=max_cases)
            )
    wrote(list(outputs))
