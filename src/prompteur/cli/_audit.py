"""``prompteur audit``: who rated, moved labels, deleted runs, changed users and tokens."""

from __future__ import annotations

import datetime

import click

from ._common import db_option, open_store


@click.command("audit")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--actor", help="Only what this user did.")
@click.option("--action", help="Only this action (rate, move label, delete run…).")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as a JSON list.")
@db_option
def audit_command(
    limit: int, actor: str | None, action: str | None, as_json: bool, db: str | None
) -> None:
    """The team server's audit log, newest first."""
    from ..store._team import audit_entries

    entries = audit_entries(open_store(db), limit=limit, actor=actor, action=action)
    if as_json:
        from ..core._json import dumps

        click.echo(
            dumps(
                [
                    {
                        "id": e.id,
                        "at": e.at,
                        "actor": e.actor,
                        "action": e.action,
                        "target": e.target,
                        "detail": e.detail,
                    }
                    for e in entries
                ]
            )
        )
        return
    if not entries:
        click.echo("the audit log is empty")
    for e in entries:
        when = datetime.datetime.fromtimestamp(e.at).strftime("%Y-%m-%d %H:%M:%S")
        detail = " ".join(f"{k}={v}" for k, v in e.detail.items())
        click.echo(f"{when}  {e.actor}  {e.action}  {e.target}  {detail}".rstrip())
