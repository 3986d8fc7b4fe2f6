"""``prompteur tokens``: API tokens for the team server (``Authorization: Bearer …``, or
``PROMPTEUR_TOKEN`` for ``prompteur --server``)."""

from __future__ import annotations

import datetime

import click

from ._common import db_option, default_author, open_store


@click.group("tokens")
def tokens_command() -> None:
    """API tokens of the team server's users: create, list, revoke."""


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "—"
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


@tokens_command.command("create")
@click.argument("name")
@click.option("--label", help="What the token is for (shown by 'tokens list').")
@db_option
def create_command(name: str, label: str | None, db: str | None) -> None:
    """Make a token for user NAME and print it: it is shown this once, and stored hashed."""
    from ..store._team import Team, record_audit

    store = open_store(db)
    info, token = Team(store).create_token(name, label)
    record_audit(store, default_author() or "cli", "token.create", name, {"id": info.id})
    click.echo(token)
    click.echo(f"token {info.id} for {name}: keep it now, it is not shown again", err=True)


@tokens_command.command("list")
@click.option("--user", help="Only this user's tokens.")
@db_option
def list_command(user: str | None, db: str | None) -> None:
    """List tokens (their ids, never the tokens themselves)."""
    from ..store._team import Team

    for token in Team(open_store(db)).tokens(user):
        state = f"revoked {_when(token.revoked_at)}" if token.revoked_at else "live"
        click.echo(
            f"{token.id}\t{token.user}\t{token.label or '—'}\tcreated {_when(token.created_at)}"
            f"\tlast used {_when(token.last_used_at)}\t{state}"
        )


@tokens_command.command("revoke")
@click.argument("token_id", metavar="ID")
@db_option
def revoke_command(token_id: str, db: str | None) -> None:
    """Revoke token ID (as 'tokens list' shows it): it signs nobody in any more."""
    from ..store._team import Team, record_audit

    store = open_store(db)
    Team(store).revoke_token(token_id)
    record_audit(store, default_author() or "cli", "token.revoke", token_id, {})
    click.echo(f"revoked token {token_id}")
