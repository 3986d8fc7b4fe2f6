"""``prompteur cache stats|clear``: the completion cache."""

from __future__ import annotations

import click

from ._common import db_option, open_store


@click.group("cache")
def cache_command() -> None:
    """Inspect or clear the completion cache (kept in the results store).

    \b
    A completion is cached under the SHA-256 of its provider's identity (id, model,
    endpoint, generation parameters), the rendered messages and the prompt's own
    parameters; only successful completions are cached. `eval --no-cache` bypasses it.
    """


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


@cache_command.command("stats")
@db_option
def stats_command(db: str | None) -> None:
    """How many completions are cached, per provider."""
    from ..store import StoreCache

    store = open_store(db)
    stats = StoreCache(store).stats()
    size = "" if stats.bytes is None else f" ({_size(stats.bytes)} of outputs)"
    click.echo(f"{stats.entries} cached completions{size} in {store.display_url}")
    for provider, count in sorted(stats.providers.items(), key=lambda item: -item[1]):
        click.echo(f"  {count:>8}  {provider}")


@cache_command.command("clear")
@click.option("--provider", help="Only this provider's completions.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@db_option
def clear_command(provider: str | None, yes: bool, db: str | None) -> None:
    """Delete cached completions."""
    from ..store import StoreCache

    store = open_store(db)
    cache = StoreCache(store)
    if not yes:
        count = cache.stats().providers.get(provider, 0) if provider else cache.stats().entries
        click.confirm(f"delete {count} cached completions?", abort=True)
    removed = cache.clear(provider)
    click.echo(f"deleted {removed} cached completions")
