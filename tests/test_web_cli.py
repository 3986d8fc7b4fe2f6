"""`prompteur view` and `prompteur serve` as commands: the viewer listens on 127.0.0.1 only
and needs no login; a port in use is one line; Cohen's κ as the review queues compute it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import free_port, wait_for_http


def test_view_serves_the_store_on_loopback_only(tmp_path: Path) -> None:
    port = free_port()
    db = f"sqlite:///{tmp_path / 'store.db'}"
    with (tmp_path / "log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prompteur",
                "view",
                "--db",
                db,
                "--port",
                str(port),
                "--no-browser",
            ],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/api/health", process)
            assert httpx.get(f"http://127.0.0.1:{port}/api/runs").json() == []
            page = httpx.get(f"http://127.0.0.1:{port}/runs")
            assert page.status_code == 200 and "No runs match" in page.text
            # bound to 127.0.0.1 alone: a server on all addresses would answer on 127.0.0.2
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                assert probe.connect_ex(("127.0.0.2", port)) != 0
            # a second viewer on the same port says so in one line
            taken = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "prompteur",
                    "view",
                    "--db",
                    db,
                    "--port",
                    str(port),
                    "--no-browser",
                ],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert taken.returncode != 0
            assert taken.stderr.strip().splitlines() == [
                f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
            ]
        finally:
            process.terminate()
            process.wait(10)
    assert "prompteur serves http://127.0.0.1:" in (tmp_path / "log").read_text()


def test_cohens_kappa_and_its_interval() -> None:
    from prompteur.analysis._agreement import cohen_kappa

    # 20 pairs: agree on 15 (10 both pass, 5 both fail), 3 + 2 disagreements
    pairs = [(True, True)] * 10 + [(False, False)] * 5 + [(True, False)] * 3 + [(False, True)] * 2
    found = cohen_kappa(pairs)
    # po = 0.75; pe = 0.65 * 0.6 + 0.35 * 0.4 = 0.53; κ = 0.22 / 0.47
    assert found.kappa == pytest.approx(0.22 / 0.47)
    assert found.low is not None and found.high is not None
    assert found.low < found.kappa < found.high
    assert found.high - found.low == pytest.approx(2 * 1.959964 * (0.75 * 0.25 / 20) ** 0.5 / 0.47)
    assert cohen_kappa([(True, True)] * 4).kappa is None  # both always pass: undefined
    assert cohen_kappa([]).pairs == 0


def test_serve_answers_from_several_worker_processes(tmp_path: Path) -> None:
    """`serve --workers 2`: two processes share the socket, each with the store open."""
    import signal

    from prompteur.store import Store
    from prompteur.store._team import Team

    db = f"sqlite:///{tmp_path / 'team.db'}"
    store = Store(db)
    team = Team(store)
    team.add_user("ann", "a long enough password", "admin")
    token = team.create_token("ann")[1]
    store.close()
    port = free_port()
    command = [sys.executable, "-m", "prompteur", "serve", "--db", db, "--port", str(port)]
    with (tmp_path / "log").open("wb") as log:
        process = subprocess.Popen(
            [*command, "--workers", "2"], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/api/health", process)
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
            workers = [
                pid
                for pid in children.split()
                if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()
            ]
            assert len(workers) == 2, children
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(10):
                me = httpx.get(f"http://127.0.0.1:{port}/api/me", headers=headers)
                assert me.json() == {"name": "ann", "role": "admin"}
            assert httpx.get(f"http://127.0.0.1:{port}/api/me").status_code == 401
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(30) == 0, (tmp_path / "log").read_text()
    refused = subprocess.run(
        [*command, "--workers", "0"], cwd=tmp_path, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "--workers" in refused.stderr
