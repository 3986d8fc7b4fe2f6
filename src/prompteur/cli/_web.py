"""``prompteur view`` (the local store in a browser, no login) and ``prompteur serve``
(the same application for a team: users, roles, tokens)."""

from __future__ import annotations

import click

from ._common import db_option

LOCALHOST = "127.0.0.1"


def _serve(app: object, host: str, port: int, opened: str | None, workers: int = 1) -> None:
    """Serve ``app`` (with ``workers`` > 1: an import string of a factory, which each
    worker process calls) on a socket bound here."""
    import socket

    import uvicorn

    # Bind first, so a port in use is one clear line and the browser opens on a server
    # that is already listening.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        from ..core._errors import PrompteurError

        sock.close()
        raise PrompteurError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    url = f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}/"
    click.echo(f"prompteur serves {url} (Ctrl-C stops it)", err=True)
    if opened is not None:
        import webbrowser

        webbrowser.open(url + opened)
    if workers == 1:
        config = uvicorn.Config(app, log_level="warning", access_log=False)  # type: ignore[arg-type]
        uvicorn.Server(config).run(sockets=[sock])
        return
    from uvicorn.supervisors import Multiprocess

    # the workers share the one socket; each reads the store through its own connections
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        factory=True,
        workers=workers,
        log_level="warning",
        access_log=False,
    )
    import inspect

    if "target" in inspect.signature(Multiprocess).parameters:  # an older uvicorn
        supervisor = Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock])  # type: ignore[call-arg, unused-ignore]
    else:
        supervisor = Multiprocess(config, sockets=[sock])
    supervisor.run()


@click.command("view")
@db_option
@click.option("--port", type=click.IntRange(0, 65535), default=8484, show_default=True)
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
def view_command(db: str | None, port: int, no_browser: bool) -> None:
    """Open the results store in a browser: runs, grids, comparisons, history, prompts and
    reviews. Listens on 127.0.0.1 only, without login (the local user owns the store)."""
    from ..web._app import create_app

    app = create_app(db, team=False)
    _serve(app, LOCALHOST, port, None if no_browser else "runs")


@click.command("serve")
@db_option
@click.option("--host", default=LOCALHOST, show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8484, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes answering requests (one per core suits PostgreSQL).",
)
def serve_command(db: str | None, host: str, port: int, workers: int) -> None:
    """Serve the store to a team: every request needs a signed-in user or an API token
    (`prompteur users add`, `prompteur tokens create`)."""
    from ..web._app import create_app

    app = create_app(db, team=True)  # opened here too: a store it cannot open is one line
    if workers == 1:
        _serve(app, host, port, None)
        return
    import os

    app.state.store.close()
    if db is not None:
        os.environ["PROMPTEUR_DB"] = db  # what each worker's app opens
    _serve("prompteur.web._app:team_app", host, port, None, workers)
