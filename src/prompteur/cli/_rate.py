"""``prompteur rate``: a person's verdict on a cell, kept beside the automatic grades."""

from __future__ import annotations

import click

from ._common import db_option, default_author, open_store, server_option
from ._eval_checks import FiniteFloatRange


@click.command("rate")
@click.argument("run")
@click.argument("cell")
@click.argument("verdict", type=click.Choice(["pass", "fail"]), required=False)
@click.option("--score", type=FiniteFloatRange(0, 1), help="A score from 0 to 1 [default: 1 or 0].")
@click.option("--comment", help="Why: shown beside the verdict in reports.")
@click.option("--author", help="Who rates [default: $PROMPTEUR_AUTHOR, git's user.name, or $USER].")
@db_option
@server_option
def rate_command(
    run: str,
    cell: str,
    verdict: str | None,
    score: float | None,
    comment: str | None,
    author: str | None,
    db: str | None,
) -> None:
    """Give a human VERDICT (pass or fail) on CELL of RUN, or, with --comment and no
    VERDICT, leave a comment on it (shown in the viewer beside the web's comments).

    CELL is the cell's key, prompt:provider:test:repeat (as `prompteur show` prints it).
    The automatic grades stay stored; `show`, `compare` and `history` use the latest human
    verdict where there is one, and say so."""
    if verdict is None and comment is None:
        raise click.UsageError("give a VERDICT (pass or fail), or a --comment, or both")
    store = open_store(db)
    info = store.run(run)
    if verdict is None:
        if score is not None:
            raise click.UsageError("--score goes with a VERDICT")
        kept = store.add_comment(
            info.id, cell, comment or "", author=author or default_author() or "unknown"
        )
        click.echo(f"run {info.id} cell {cell}: comment by {kept.author}")
        return
    previous = next(store.results(info.id, human=True, cell_key=cell), None)
    recorded = store.rate(
        info.id,
        cell,
        passed=verdict == "pass",
        score=score,
        comment=comment,
        author=author or default_author() or "unknown",
    )
    automatic = ""
    if previous is not None:
        before = (
            "pass"
            if previous.passed and previous.error is None
            else ("error" if previous.error is not None else "fail")
        )
        automatic = f" (automatic grade: {before})"
    click.echo(f"run {info.id} cell {cell}: {verdict} by {recorded.author}{automatic}")
