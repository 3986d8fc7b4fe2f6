"""``prompteur users``: the team server's users and their roles (run on the server's
machine, against its store)."""

from __future__ import annotations

import sys

import click

from ._common import db_option, open_store

ROLE_CHOICE = click.Choice(["admin", "editor", "reviewer", "viewer"])


@click.group("users")
def users_command() -> None:
    """Users of the team server (`prompteur serve`): add, list, set-role, remove.

    \b
    Roles: viewers read; reviewers also rate and comment; editors also manage prompts,
    review queues and runs; admins also users and the `production` label."""


def _read_password() -> str:
    """The password from stdin: typed twice at a terminal, else its first line."""
    if sys.stdin.isatty():
        password: str = click.prompt("password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


@users_command.command("add")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the user may do.")
@db_option
def add_command(name: str, role: str, db: str | None) -> None:
    """Add user NAME; the password is read from stdin (`echo "$PASS" | prompteur users add …`)."""
    from ..store._team import Team, record_audit

    store = open_store(db)
    Team(store).add_user(name, _read_password(), role)
    record_audit(store, _operator(), "user.add", name, {"role": role, "via": "cli"})
    click.echo(f"added user {name} ({role})")


@users_command.command("list")
@db_option
def list_command(db: str | None) -> None:
    """List users and their roles."""
    from ..store._team import Team

    accounts = Team(open_store(db)).users()
    if not accounts:
        click.echo("no users (add one with 'prompteur users add NAME --role admin')")
    for account in accounts:
        click.echo(f"{account.name}\t{account.role}")


@users_command.command("set-role")
@click.argument("name")
@click.argument("role", type=ROLE_CHOICE)
@db_option
def set_role_command(name: str, role: str, db: str | None) -> None:
    """Give user NAME another ROLE."""
    from ..store._team import Team, record_audit

    store = open_store(db)
    Team(store).set_role(name, role)
    record_audit(store, _operator(), "user.role", name, {"role": role, "via": "cli"})
    click.echo(f"{name} is now {role}")


@users_command.command("remove")
@click.argument("name")
@db_option
def remove_command(name: str, db: str | None) -> None:
    """Remove user NAME with their tokens and sessions (the audit log keeps what they did)."""
    from ..store._team import Team, record_audit

    store = open_store(db)
    Team(store).remove_user(name)
    record_audit(store, _operator(), "user.remove", name, {"via": "cli"})
    click.echo(f"removed user {name}")


def _operator() -> str:
    from ._common import default_author

    return default_author() or "cli"
