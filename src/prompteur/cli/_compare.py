"""``prompteur compare``: is B really better than A? Two runs, or two prompts or providers
inside one run, compared on the cases they share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import EXIT_FAILED, EXIT_OK
from ._common import (
    db_option,
    open_store,
    output_option,
    server_option,
    stdout_console,
    wrote,
)

if TYPE_CHECKING:
    from ..analysis._compare import Comparison
    from ..store import RunInfo, Store


def print_comparison(comparison: Comparison, max_cases: int) -> None:
    from rich.markup import escape

    from ..report._summary import excerpt as _excerpt

    console = stdout_console()
    c = comparison
    console.print(f"[bold]A[/] {escape(c.label_a)}\n[bold]B[/] {escape(c.label_b)}")
    for note in c.notes:
        console.print(f"[dim]{escape(note)}[/]")
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


@click.command("compare")
@click.argument("run_a")
@click.argument("run_b", required=False)
@click.option(
    "--prompts",
    nargs=2,
    metavar="A B",
    help="Compare two prompts: of one run, or the first of RUN_A with the second of RUN_B "
    "(names, labels, positions, or references such as support@production).",
)
@click.option(
    "--providers",
    nargs=2,
    metavar="A B",
    help="Compare two providers: of one run, or the first of RUN_A with the second of RUN_B "
    "(labels or positions).",
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
@server_option
def compare_command(
    run_a: str,
    run_b: str | None,
    prompts: tuple[str, str] | None,
    providers: tuple[str, str] | None,
    max_cases: int,
    outputs: tuple[Path, ...],
    db: str | None,
) -> None:
    """Compare RUN_A with RUN_B, or two prompts or providers (inside RUN_A, or the first
    of RUN_A with the second of RUN_B), on the cases they share.

    \b
    Two runs pair their prompts by name, then by registered prompt (the same version,
    then any version of it: support@v1 in A against support@v2 in B).
    Reports newly failing and newly passing cases, the pass-rate difference with a 95%
    paired-bootstrap interval, McNemar's exact p-value, and a verdict. Exit code 1 when
    B is significantly worse, so it can gate a change in CI; 2 when the two sides share
    no case (nothing to compare).
    """
    for path in outputs:
        if path.suffix.lower() not in (".html", ".htm", ".md"):
            raise click.UsageError(f"unsupported comparison report {path.name}: use .html or .md")
    if prompts and providers:
        raise click.UsageError("compare prompts or providers, not both")
    from ..analysis._run_comparison import compare_chosen, compare_runs

    store = open_store(db)
    info_a = store.run(run_a)
    info_b = store.run(run_b) if run_b is not None else info_a
    if prompts:
        comparison = compare_chosen(store, info_a, info_b, "prompt", prompts)
    elif providers:
        comparison = compare_chosen(store, info_a, info_b, "provider", providers)
    else:
        if run_b is None:
            raise click.UsageError("give two runs, or one run with --prompts or --providers")
        if info_a.id == info_b.id:
            from ..core._errors import PrompteurError

            raise PrompteurError(
                f"{run_a} and {run_b} are the same run ({info_a.id}): give two runs, or "
                "compare inside it with --prompts or --providers"
            )
        comparison = compare_runs(store, info_a, info_b)
    infos = [info_a] if info_a.id == info_b.id else [info_a, info_b]
    if not comparison.pairs:
        from ..core._errors import PrompteurError
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
