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
    from ..eval._pairing import RunPrompt
    from ..store import CellOutcome, RunInfo, Store

Side = dict[Hashable, "Outcome | None"]
Key = Callable[["CellOutcome"], "Hashable | None"]


def _outcome(cell: CellOutcome) -> Outcome | None:
    from ..eval._compare import Outcome

    if cell.status == "error":
        return None
    return Outcome(cell.status == "pass", cell.case, cell.output, cell.human)


def _side(store: Store, info: RunInfo, key: Key) -> Side:
    side: Side = {}
    for cell in store.outcomes(info.id):
        pairing = key(cell)
        if pairing is not None:
            side[pairing] = _outcome(cell)
    return side


def _run_prompts(info: RunInfo) -> list[RunPrompt]:
    from ..eval._pairing import RunPrompt

    registered = info.registered or [None] * len(info.prompts)
    return [RunPrompt(name, reg) for (name, _), reg in zip(info.prompts, registered, strict=True)]


def _aliases(info: RunInfo, position: int) -> set[str]:
    """Other names a user may give a run's prompt: its exact version (``support@v2``), the
    reference the suite wrote (``support@production``), and the registered name when the
    run holds one version of it."""
    from ..eval._pairing import version_name

    prompt = _run_prompts(info)[position]
    if prompt.registered is None:
        return set()
    exact = version_name(prompt.registered)
    pins = (info.options.get("cli") or {}).get("pins") or {}
    names = {exact} | {ref for ref, pinned in pins.items() if pinned == exact}
    same = [p for p in info.registered if p is not None and p[0] == prompt.registered[0]]
    if len(same) == 1:
        names.add(prompt.registered[0])
    return names


def _pick(name: str, info: RunInfo, what: str) -> int:
    """A prompt or provider of a run, by name, label, 1-based position or (for a registered
    prompt) the reference the suite wrote; its position."""
    from ..errors import SuiteError

    choices = info.prompts if what == "prompt" else info.providers
    for position, (ident, label) in enumerate(choices):
        if name in (ident, label, str(position + 1)):
            return position
    if what == "prompt":
        found = [p for p in range(len(choices)) if name in _aliases(info, p)]
        if len(found) == 1:
            return found[0]
        if found:
            names = ", ".join(choices[p][1] for p in found)
            raise SuiteError(f"'{name}' names several prompts of run {info.id} ({names})")
    known = ", ".join(f"{i}: {label}" for i, (_, label) in enumerate(choices, start=1))
    raise SuiteError(f"no {what} '{name}' in run {info.id} (it has {known})")


def _pair_providers(a: RunInfo, b: RunInfo) -> dict[int, int]:
    labels = {label: position for position, (label, _) in enumerate(b.providers)}
    pairs = {i: labels[label] for i, (label, _) in enumerate(a.providers) if label in labels}
    if not pairs and len(a.providers) == 1 and len(b.providers) == 1:
        pairs[0] = 0  # one provider a side: that is what is being compared
    return pairs


class _Pairing:
    """How the prompts and providers of run A stand for those of run B (the identity within
    one run). Cells pair on A's positions; the unpaired keep keys the other side lacks."""

    def __init__(self, a: RunInfo, b: RunInfo) -> None:
        from ..eval._pairing import pair_prompts

        self.a, self.b = a, b
        same = a.id == b.id
        self.prompts = (
            {i: i for i in range(len(a.prompts))}
            if same
            else pair_prompts(_run_prompts(a), _run_prompts(b))
        )
        self.providers = {i: i for i in range(len(a.providers))} if same else _pair_providers(a, b)
        self._prompts_b = {j: i for i, j in self.prompts.items()}
        self._providers_b = {j: i for i, j in self.providers.items()}

    def prompt(self, cell: CellOutcome, side: str) -> Hashable:
        pairs = self.prompts if side == "a" else self._prompts_b
        paired = pairs.get(cell.prompt_pos)
        return ("prompt", paired) if paired is not None else (side, "prompt", cell.prompt_pos)

    def provider(self, cell: CellOutcome, side: str) -> Hashable:
        pairs = self.providers if side == "a" else self._providers_b
        paired = pairs.get(cell.provider_pos)
        return ("provider", paired) if paired is not None else (side, "provider", cell.provider_pos)

    def notes(self) -> list[str]:
        """What was paired with what, where the names alone do not say it."""
        a_prompts, b_prompts = _run_prompts(self.a), _run_prompts(self.b)
        notes = [
            f"prompt {a_prompts[i].shown} in A ↔ {b_prompts[j].shown} in B"
            for i, j in self.prompts.items()
            if a_prompts[i] != b_prompts[j]
        ]
        notes += [
            f"provider {self.a.providers[i][1]} in A ↔ {self.b.providers[j][1]} in B"
            for i, j in self.providers.items()
            if self.a.providers[i][1] != self.b.providers[j][1]
        ]
        lonely = [p.shown for i, p in enumerate(a_prompts) if i not in self.prompts]
        if lonely:
            notes.append(f"only in A, not compared: {', '.join(lonely)}")
        lonely = [p.shown for j, p in enumerate(b_prompts) if j not in self._prompts_b]
        if lonely:
            notes.append(f"only in B, not compared: {', '.join(lonely)}")
        if lonely or len(self.prompts) < len(a_prompts):
            notes.append("pick the prompts to compare with --prompts A B")
        return notes


def _runs_comparison(store: Store, a: RunInfo, b: RunInfo) -> Comparison:
    """Run A against run B: each prompt × provider against the one it stands for."""
    import dataclasses

    from ..eval._compare import compare_outcomes

    pairing = _Pairing(a, b)

    def key(side: str) -> Key:
        return lambda c: (
            pairing.prompt(c, side),
            pairing.provider(c, side),
            c.test_key,
            c.repeat,
        )

    comparison = compare_outcomes(
        _side(store, a, key("a")),
        _side(store, b, key("b")),
        label_a=f"run {a.id} ({a.suite_name})",
        label_b=f"run {b.id} ({b.suite_name})",
    )
    return dataclasses.replace(comparison, notes=(*_status_notes(a, b), *pairing.notes()))


def _chosen_comparison(
    store: Store,
    a: RunInfo,
    b: RunInfo,
    prompts: tuple[str, str] | None,
    providers: tuple[str, str] | None,
) -> Comparison:
    """One prompt (or provider) of run A against one of run B, which may be the same run:
    paired on the rest of the cell (provider or prompt, case, repeat)."""
    import dataclasses

    from ..errors import SuiteError
    from ..eval._compare import compare_outcomes

    what = "prompt" if prompts is not None else "provider"
    names = prompts if prompts is not None else providers
    assert names is not None
    first, second = _pick(names[0], a, what), _pick(names[1], b, what)
    if a.id == b.id and first == second:
        raise SuiteError(f"both sides are the same {what}: name two different ones")
    pairing = _Pairing(a, b)

    def key(side: str, wanted: int) -> Key:
        if what == "prompt":
            return lambda c: (
                (pairing.provider(c, side), c.test_key, c.repeat)
                if c.prompt_pos == wanted
                else None
            )
        return lambda c: (
            (pairing.prompt(c, side), c.test_key, c.repeat) if c.provider_pos == wanted else None
        )

    choices_a = a.prompts if what == "prompt" else a.providers
    choices_b = b.prompts if what == "prompt" else b.providers
    comparison = compare_outcomes(
        _side(store, a, key("a", first)),
        _side(store, b, key("b", second)),
        label_a=f"{choices_a[first][1]} (run {a.id})",
        label_b=f"{choices_b[second][1]} (run {b.id})",
    )
    notes = _status_notes(a) if a.id == b.id else _status_notes(a, b)
    return dataclasses.replace(comparison, notes=tuple(notes))


def _status_notes(*infos: RunInfo) -> list[str]:
    """A run that did not finish is compared on the cells it stored: say so."""
    return [
        f"run {info.id} is {info.status}: compared on the {info.done} of {info.total_cells} "
        "cells it stored"
        for info in infos
        if info.status != "finished"
    ]


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
    store = open_store(db)
    info_a = store.run(run_a)
    info_b = store.run(run_b) if run_b is not None else info_a
    if prompts or providers:
        comparison = _chosen_comparison(store, info_a, info_b, prompts, providers)
    else:
        if run_b is None:
            raise click.UsageError("give two runs, or one run with --prompts or --providers")
        if info_a.id == info_b.id:
            from ..errors import PrompteurError

            raise PrompteurError(
                f"{run_a} and {run_b} are the same run ({info_a.id}): give two runs, or "
                "compare inside it with --prompts or --providers"
            )
        comparison = _runs_comparison(store, info_a, info_b)
    infos = [info_a] if info_a.id == info_b.id else [info_a, info_b]
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
