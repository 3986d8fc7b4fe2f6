"""What the team server's sign-in and `--server` recording cost.

Starts `prompteur serve` on a fresh store (PostgreSQL at $PROMPTEUR_TEST_PG when it
answers, else SQLite) on a loopback port, then prints:
- the median time of a request signed by an API token (GET /api/me) beside one that
  needs no sign-in (GET /api/health): what each request pays to be authenticated;
- the time of `prompteur eval` of an N-case echo suite recorded on the server with
  --server, beside the same run recorded in a local SQLite store.

    python bench/team_server.py [--cases 2000] [--requests 300]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx

SUITE = """description: bench
prompts: ["{{word}}"]
providers: [echo]
tests:
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def store_url(folder: Path) -> str:
    pg = os.environ.get("PROMPTEUR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import psycopg

        with psycopg.connect(pg, autocommit=True, connect_timeout=3) as admin:
            name = f"prompteur_bench_{os.getpid()}"
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        return f"{pg.rsplit('/', 1)[0]}/{name}"
    except Exception:
        return f"sqlite:///{folder / 'server.db'}"


def wait(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit("the server stopped")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def median_ms(client: httpx.Client, path: str, count: int) -> float:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        client.get(path).raise_for_status()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def timed_eval(folder: Path, *args: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "prompteur", "eval", "--no-progress", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=300)
    given = parser.parse_args()
    from prompteur.store import Store
    from prompteur.store._team import Team

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = store_url(folder)
        store = Store(db)
        Team(store).add_user("bench", "a long password", "editor")
        token = Team(store).create_token("bench")[1]
        store.close()
        cases = "".join(f"  - vars: {{word: w{i}}}\n" for i in range(given.cases))
        (folder / "prompteur.yaml").write_text(SUITE + cases, encoding="utf-8")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = ["prompteur", "serve", "--db", db, "--port", str(port)]
        server = subprocess.Popen([sys.executable, "-m", *command], stderr=subprocess.DEVNULL)
        try:
            wait(url + "/api/health", server)
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
                median_ms(c, "/api/health", 20)  # warm up
                open_ms = median_ms(c, "/api/health", given.requests)
                signed_ms = median_ms(c, "/api/me", given.requests)
            env = {**os.environ, "PROMPTEUR_TOKEN": token}
            remote_s = timed_eval(folder, "--server", url, env=env)
            local_s = timed_eval(folder, "--db", str(folder / "local.db"), env=env)
        finally:
            server.terminate()
            server.wait(30)
    backend = "PostgreSQL" if db.startswith("postgresql") else "SQLite"
    print(f"store: {backend}")
    print(f"GET /api/health (no sign-in): median {open_ms:.2f} ms over {given.requests}")
    print(f"GET /api/me (API token):      median {signed_ms:.2f} ms over {given.requests}")
    print(f"eval of {given.cases} cases, recorded with --server: {remote_s:.2f} s")
    print(f"eval of {given.cases} cases, recorded in local SQLite: {local_s:.2f} s")


if __name__ == "__main__":
    main()
