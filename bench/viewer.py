"""The viewer's speed on a large run: a stored run of 10,000 cases × 2 prompts (written by
`prompteur eval` with the echo provider), served by `prompteur view`, then measured from an
asyncio client: the run page's first load (bytes, with its script and stylesheet, and time),
further grid pages, and p95 latency under 50 concurrent clients reading grid pages; on
SQLite and, when its server answers, on PostgreSQL (PROMPTEUR_TEST_PG). With --workers N,
the team server (`prompteur serve --workers N`, signed in by an API token) instead.

    .venv/bin/python bench/viewer.py [--cases 10000] [--clients 50] [--backend sqlite]
        [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import httpx

PG_ADMIN_URL = os.environ.get("PROMPTEUR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PAGE = 40


def write_suite(folder: Path, cases: int) -> None:
    rng = random.Random(7)
    words = [
        "apple",
        "cherry",
        "banana",
        "plum",
        "pear",
        "fig",
        "kiwi",
        "lime",
        "mango",
        "melon",
        "peach",
        "grape",
    ]
    with (folder / "cases.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["fruit", "detail", "__expected"])
        for i in range(cases):
            detail = " ".join(rng.choice(words) for _ in range(rng.randint(5, 40)))
            writer.writerow([f"{rng.choice(words)}-{i}", detail, f"icontains:{rng.choice(words)}"])
    (folder / "prompteur.yaml").write_text(
        "description: viewer bench\n"
        "prompts:\n"
        "  - 'Tell me about {{fruit}}: {{detail}}'\n"
        "  - label: short\n"
        "    raw: '{{fruit}}? {{detail}}'\n"
        "providers: [echo]\n"
        "tests: file://cases.csv\n",
        encoding="utf-8",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """The CPU time a process and its children (a server's workers) have used (user +
    system), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:  # a worker that ended
        return 0.0
    used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        used += sum(cpu_seconds(int(child)) for child in children)
    return used


def team_token(db: str) -> str:
    """An API token of a viewer of the store, for the team server."""
    from prompteur.store import Store
    from prompteur.store._team import Team

    store = Store(db)
    team = Team(store)
    team.add_user("bench", "a long bench password", "viewer")
    token = team.create_token("bench")[1]
    store.close()
    return token


@contextmanager
def viewer(db: str, folder: Path, workers: int | None) -> Iterator[tuple[str, int, dict[str, str]]]:
    """``prompteur view`` on the store; with ``workers``, ``prompteur serve`` and its token."""
    port = free_port()
    command = ["view", "--db", db, "--port", str(port), "--no-browser"]
    headers = {}
    if workers is not None:
        command = ["serve", "--db", db, "--port", str(port), "--workers", str(workers)]
        headers["Authorization"] = f"Bearer {team_token(db)}"
    server = subprocess.Popen(
        [sys.executable, "-m", "prompteur", *command],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url, server.pid, headers
    finally:
        server.terminate()
        server.wait(10)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


async def measure(
    url: str, pid: int, headers: dict[str, str], run: str, cases: int, clients: int, rounds: int
) -> dict[str, str]:
    figures: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers) as client:
        loads = []
        for _ in range(6):
            start = time.perf_counter()
            page = await client.get(f"/runs/{run}")
            loads.append(time.perf_counter() - start)
            assert page.status_code == 200, page.text[:200]
        assets = [await client.get(p) for p in ("/static/app.js", "/static/app.css")]
        total = len(page.content) + sum(len(a.content) for a in assets)
        figures["first load, bytes (page + js + css)"] = (
            f"{total / 1024:.0f} KB ({len(page.content) / 1024:.0f} KB page)"
        )
        figures["first load, time (cold; median of 5 warm)"] = (
            f"{ms(loads[0])}; {ms(statistics.median(loads[1:]))}"
        )
        rng = random.Random(1)
        pages = []
        for _ in range(30):
            offset = rng.randrange(0, cases - PAGE)
            start = time.perf_counter()
            reply = await client.get(
                f"/api/runs/{run}/cells", params={"offset": offset, "limit": PAGE}
            )
            pages.append(time.perf_counter() - start)
            assert reply.status_code == 200 and len(reply.json()["rows"]) == PAGE
        figures["grid page of 40 rows (median; p95)"] = (
            f"{ms(statistics.median(pages))}; {ms(p95(pages))}"
        )
        filtered = []
        for params in (
            {"failures": "true"},
            {"q": "mango"},
            {"sort": "latency"},
            {"differing": "true"},
        ):
            start = time.perf_counter()
            reply = await client.get(
                f"/api/runs/{run}/cells", params={**params, "offset": 200, "limit": PAGE}
            )
            filtered.append(time.perf_counter() - start)
            assert reply.status_code == 200
        figures["filtered grid pages (failures, search, sort, differing)"] = ", ".join(
            ms(v) for v in filtered
        )
        # a new search, as the run page asks for it: its first page, its count, the next page
        search = {"q": "cherry", "limit": PAGE}
        steps: list[str] = []
        for path, offset in (("/cells", 0), ("/cells/count", 0), ("/cells", PAGE)):
            start = time.perf_counter()
            reply = await client.get(f"/api/runs/{run}{path}", params={**search, "offset": offset})
            took = ms(time.perf_counter() - start)
            # 404: a server older than the count's own route (its pages were counted)
            assert reply.status_code in (200, 404), reply.text[:200]
            if reply.status_code == 404:
                took = "none"
            elif path == "/cells" and reply.json()["total"] is None:
                took += " (not counted)"
            steps.append(took)
        figures["new search (first page; count; next page)"] = "; ".join(steps)

    async def reader(seed: int, latencies: list[float]) -> None:
        rng = random.Random(seed)
        # aiohttp: its client costs a tenth of httpx's CPU, which on two cores is taken
        # from the server under test
        async with aiohttp.ClientSession(url, headers=headers) as session:
            for _ in range(rounds):
                offset = rng.randrange(0, cases - PAGE)
                start = time.perf_counter()
                async with session.get(
                    f"/api/runs/{run}/cells", params={"offset": offset, "limit": PAGE}
                ) as reply:
                    await reply.read()
                    assert reply.status == 200
                latencies.append(time.perf_counter() - start)

    latencies: list[float] = []
    cpu = cpu_seconds(pid)
    client_cpu = time.process_time()
    start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for seed in range(clients):
            group.create_task(reader(seed, latencies))
    wall = time.perf_counter() - start
    figures[f"{clients} concurrent clients × {rounds} grid pages (p50; p95; req/s)"] = (
        f"{ms(statistics.median(latencies))}; {ms(p95(latencies))}; {len(latencies) / wall:.0f}"
    )
    # what each page cost the server's CPU: the figure a loaded machine distorts least
    used = (cpu_seconds(pid) - cpu) / len(latencies)
    client = (time.process_time() - client_cpu) / len(latencies)
    figures["CPU per grid page under load: server; client"] = (
        f"{used * 1000:.1f} ms; {client * 1000:.1f} ms"
    )
    return figures


@contextmanager
def postgres_database() -> Iterator[str | None]:
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:
        print(f"postgresql: skipped ({str(exc).strip().splitlines()[0]})")
        yield None
        return
    name = f"prompteur_bench_viewer_{os.getpid()}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
        finally:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def bench(
    db: str,
    folder: Path,
    cases: int,
    clients: int,
    rounds: int,
    backend: str,
    workers: int | None,
) -> None:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "prompteur", "eval", "--db", db, "--no-progress", "--no-cache"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        check=False,
    )
    load = os.getloadavg()[0]
    took = time.perf_counter() - start
    server = "view" if workers is None else f"serve --workers {workers}"
    print(
        f"\n{backend}, {server} (load average {load:.1f} on {os.cpu_count()} cores): "
        f"stored {cases:,} cases × 2 prompts in {took:.1f} s"
    )
    with viewer(db, folder, workers) as (url, pid, headers):
        found_runs = httpx.get(url + "/api/runs", params={"limit": 1}, headers=headers)
        run = found_runs.json()[0]["id"]
        found = asyncio.run(measure(url, pid, headers, run, cases, clients, rounds))
        for name, value in found.items():
            print(f"  {name}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10, help="grid pages each client reads")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="serve with `prompteur serve --workers N` (a team server, signed in by a token)"
        " rather than `prompteur view`",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_suite(folder, args.cases)
        if args.backend in ("sqlite", "both"):
            bench(
                f"sqlite:///{folder / 'bench.db'}",
                folder,
                args.cases,
                args.clients,
                args.rounds,
                "sqlite",
                args.workers,
            )
        if args.backend in ("postgresql", "both"):
            with postgres_database() as url:
                if url is not None:
                    bench(
                        url,
                        folder,
                        args.cases,
                        args.clients,
                        args.rounds,
                        "postgresql",
                        args.workers,
                    )


if __name__ == "__main__":
    main()
