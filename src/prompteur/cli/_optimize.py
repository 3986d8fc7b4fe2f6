"""``prompteur optimize``: find a better version of a suite's prompt within a call budget,
proven on held-out cases; the winner is registered, labelled ``candidate``."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import EXIT_INTERRUPTED, EXIT_OK
from ._common import db_option, open_store, stdout_console, wrote

if TYPE_CHECKING:
    from ..optimize import OptimizeResult
    from ..optimize._search import Search
    from ..store import Store

_PROMPT_KINDS = {".prompty": "prompty", ".txt": "text", ".md": "text", ".json": "json"}


def _is_report(path: Path) -> bool:
    """``optimize.json`` / ``*report*.json`` and any .html are the report; other .json,
    .prompty, .txt and .md files get the winning prompt."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        return True
    stem = path.stem.lower()
    return suffix == ".json" and ("optimize" in stem or "report" in stem)


def _check_outputs(outputs: tuple[Path, ...]) -> None:
    from ..report._files import check_writable

    for path in outputs:
        if not _is_report(path) and path.suffix.lower() not in _PROMPT_KINDS:
            raise click.UsageError(
                f"cannot write {path}: use .prompty, .txt, .md or .json for the prompt, "
                "optimize.json or .html for the report"
            )
        check_writable(path)


@click.command("optimize")
@click.argument("suite", required=False, type=click.Path(path_type=Path))
@click.option(
    "--prompt",
    "prompt",
    metavar="REF",
    help="The prompt to improve: its label, "
    "1-based index, or registered reference (needed when the suite has several).",
)
@click.option(
    "--budget",
    default="300",
    show_default=True,
    metavar="N",
    help="Hard cap on model calls (task, proposer, judge); cached answers are "
    "free. Also '50k tok' or '2$'.",
)
@click.option(
    "--method",
    type=click.Choice(["auto", "demos", "instructions", "reflect"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--proposer",
    metavar="PROVIDER",
    help="The model that writes candidate instructions [default: the task model].",
)
@click.option(
    "--answer-var",
    metavar="NAME",
    help="The variable holding each case's expected answer (for demonstrations) "
    "[default: found in the assertions].",
)
@click.option(
    "--holdout",
    default="30%",
    show_default=True,
    metavar="SHARE|FILE",
    help="Share of the tests held out, or a file of held-out tests.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "-p",
    "--provider",
    "providers",
    multiple=True,
    help="Task model(s) instead of the suite's (repeatable).",
)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="best.prompty / .txt / .json (the winning prompt), optimize.json or "
    "optimize.html (the report). Repeatable.",
)
@click.option(
    "--resume",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[SEARCH]",
    help="Continue an interrupted search (default: the latest unfinished one).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar or progress lines.")
@db_option
def optimize_command(
    suite: Path | None,
    prompt: str | None,
    budget: str,
    method: str,
    proposer: str | None,
    answer_var: str | None,
    holdout: str,
    seed: int,
    providers: tuple[str, ...],
    outputs: tuple[Path, ...],
    resume: str | None,
    no_progress: bool,
    db: str | None,
) -> None:
    """Optimize a prompt of SUITE (default: prompteur.yaml here) on its own tests and
    assertions, within --budget calls; prove the winner on held-out cases.

    \b
    Exit codes: 0 done (improved or not), 2 bad input, 130 interrupted (Ctrl-C or
    SIGTERM: the best so far is kept; continue with --resume).
    """
    from ..optimize._budget import parse_budget
    from ._eval import suite_file_of

    parse_budget(budget)  # a budget that cannot be read is refused before anything runs
    _check_outputs(outputs)
    target = None
    if resume is None:
        target = suite_file_of(suite)
        if target is None:
            raise click.UsageError("no suite given and no prompteur.yaml here")
    store = open_store(db)
    progress = None if no_progress else _Progress()
    result = _run(
        store,
        target,
        resume,
        progress,
        {
            "prompt": prompt,
            "budget": budget,
            "method": method,
            "proposer": proposer,
            "answer_var": answer_var,
            "holdout": holdout,
            "seed": seed,
            "providers": providers,
            # a plain-text file can hold only a text prompt: demonstrations stay a block
            "text_only": any(_PROMPT_KINDS.get(p.suffix.lower()) == "text" for p in outputs),
        },
    )
    if progress is not None:
        progress.close()
    _print(result)
    _write(result, outputs, store)
    if result.interrupted:
        click.echo(f"resume with: prompteur optimize --resume {result.search_id}", err=True)
        click.get_current_context().exit(EXIT_INTERRUPTED)
    click.get_current_context().exit(EXIT_OK)


def _run(
    store: Store, target: Path | None, resume: str | None, progress: Any, given: dict[str, Any]
) -> OptimizeResult:
    import asyncio

    from ..optimize import optimize_async
    from ._stopping import StoppedByTerm, stop_on_sigterm

    found: list[OptimizeResult] = []

    async def work() -> None:
        found.append(
            await optimize_async(target, store=store, resume=resume, on_progress=progress, **given)
        )

    with contextlib.suppress(KeyboardInterrupt, StoppedByTerm):
        asyncio.run(stop_on_sigterm(work()))
    if not found:
        from ..core._errors import PrompteurError

        raise PrompteurError("the search was stopped before it began")
    return found[0]


class _Progress:
    """Calls spent against the budget, and the best validation score so far."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.live = self.console.is_terminal
        self.last = ""

    def __call__(self, search: Search, phase: str) -> None:
        ledger = search.scorer.ledger
        score = search.validation_score(search.best)
        shown = "–" if score is None else f"{100 * score:.1f}%"
        line = (
            f"optimize: {phase}: {ledger.spent:g}/{ledger.budget.limit:g} "
            f"{ledger.budget.kind} (holdout reserved), best validation {shown}"
        )
        if line == self.last:
            return
        self.last = line
        if self.live:
            self.console.print(line, end="\r", highlight=False)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.live:
            self.console.print()


def _print(result: OptimizeResult) -> None:
    from rich.table import Table

    console = stdout_console()
    data = result.to_json()
    table = Table(title=f"optimize {result.search_id}: start against winner")
    table.add_column("")
    table.add_column("validation", justify="right")
    table.add_column("holdout", justify="right")
    table.add_column("holdout 95% interval", justify="right")
    held = data["holdout"]
    for who in ("start", "winner"):
        rate = data[who]["validation"]
        cells = [who, "–" if rate is None else f"{100 * rate:.1f}%"]
        if held:
            low, high = held[who]["ci95"]
            cells += [
                f"{held[who]['passed']}/{held['cases']} ({100 * held[who]['rate']:.1f}%)",
                f"{100 * low:.1f}–{100 * high:.1f}%",
            ]
        else:
            cells += ["–", "–"]
        table.add_row(*cells)
    console.print(table)
    if held:
        low, high = held["difference_ci95"]
        console.print(
            f"McNemar exact p = {held['mcnemar_p']:.3g}; difference 95% interval "
            f"{100 * low:+.1f} to {100 * high:+.1f} points",
            highlight=False,
        )
    roles = ", ".join(
        f"{role} {u['calls']} calls ({u['cached']} cached, "
        f"{u['prompt_tokens'] + u['completion_tokens']} tokens)"
        for role, u in data["ledger"]["roles"].items()
        if u["calls"] or u["cached"]
    )
    console.print(
        f"spent {data['ledger']['spent']:g} of {result.settings.budget}: {roles}", highlight=False
    )
    skipped = data["skipped_proposals"]
    if data["proposals"]:
        console.print(
            f"proposals: {data['proposals']}, skipped {sum(skipped.values())} "
            f"{skipped if skipped else ''}",
            highlight=False,
        )
    if result.interrupted:
        console.print("interrupted: the best so far is kept in the store; nothing registered")
    elif result.registered:
        console.print(
            f"winner ({result.search.best.describe()}) registered as "
            f"{result.registered}, labelled candidate",
            highlight=False,
        )
        console.print(data["diff"], highlight=False, markup=False)
    else:
        console.print("no candidate beat the start on validation: nothing registered")


def _write(result: OptimizeResult, outputs: tuple[Path, ...], store: Store) -> None:
    from ..optimize._report import write_report
    from ..report._files import write_atomically

    for path in outputs:
        if _is_report(path):
            write_report(result, path)
        else:
            write_atomically(path, _prompt_file(result, path, store))
    wrote(outputs)


def _prompt_file(result: OptimizeResult, path: Path, store: Store) -> str:
    """The winning prompt as ``prompts export`` writes it."""
    from ..store._registry import PromptRegistry, PromptSource, PromptVersion
    from ..store._registry_export import export_text

    kind = _PROMPT_KINDS[path.suffix.lower()]
    if result.registered:
        version = PromptRegistry(store).get(result.registered)
    else:
        shape = result.search.shape
        template, fmt = shape.source(result.search.best)
        if result.search.best.key == result.search.start.key and not shape.chat:
            template = shape.start.raw
        source = PromptSource(template, fmt, shape.start.params, shape.start.defaults).normalized()
        name = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in shape.start.label)
        version = PromptVersion(
            name.strip("-.")[:60] or "prompt",
            0,
            source,
            source.content_hash,
            None,
            None,
            None,
            "optimizer",
            0.0,
        )
    return export_text(version, kind)
