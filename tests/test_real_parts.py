"""Under PROMPTEUR_REQUIRE_REAL=1 (as .ci/run sets it), a real part the tests need that is
missing fails them; without it, they skip and say why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NO_SERVER = "postgresql://postgres@127.0.0.1:1/none"


def run_a_postgres_test(require_real: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PROMPTEUR_REQUIRE_REAL"}
    env["PROMPTEUR_TEST_PG"] = NO_SERVER
    if require_real:
        env["PROMPTEUR_REQUIRE_REAL"] = "1"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            f"{ROOT}/tests/test_store.py::test_a_database_that_does_not_exist",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_missing_postgresql_fails_when_real_parts_are_required() -> None:
    done = run_a_postgres_test(require_real=True)
    assert done.returncode == 1, done.stdout
    assert "no PostgreSQL server at postgresql://postgres@127.0.0.1:1/none" in done.stdout
    assert "1 error" in done.stdout or "1 failed" in done.stdout


def test_a_missing_postgresql_skips_on_a_laptop() -> None:
    done = run_a_postgres_test(require_real=False)
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout
    assert "no PostgreSQL server" in done.stdout
