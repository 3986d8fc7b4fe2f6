"""Terminal tables fit 80 columns without cutting what a user must read: the run id and the
counts stay whole, labels give way with an ellipsis, and the columns left out are named."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from prompteur.report._tables import Column, print_fitted

LONG_SUITE = "A suite whose description is far longer than any terminal column could hold"
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def _printed(width: int, columns: list[Column], rows: list[list[str]]) -> list[str]:
    out = io.StringIO()
    print_fitted(columns, rows, Console(file=out, width=width, force_terminal=False))
    return out.getvalue().splitlines()


RUNS = [
    Column("run"),
    Column("started", drop=2),
    Column("suite", label=True, min_width=12, max_width=40),
    Column("status"),
    Column("cells", justify="right"),
    Column("pass rate", justify="right"),
    Column("duration", justify="right", drop=1),
]
ROW = [
    "20261203-130255-d38616",
    "2026-12-03 13:02",
    LONG_SUITE,
    "interrupted",
    "35/40",
    "45.7%",
    "85.7 s",
]


def test_a_wide_terminal_shows_every_column_whole() -> None:
    lines = _printed(200, RUNS, [ROW])
    assert all(value in lines[2] for value in ROW if value != LONG_SUITE)
    assert not any("not shown" in line for line in lines)


@pytest.mark.parametrize("width", [80, 72])
def test_at_narrow_widths_labels_shrink_and_columns_go_but_figures_stay_whole(
    width: int,
) -> None:
    lines = _printed(width, RUNS, [ROW])
    assert all(len(line) <= width for line in lines)
    row = lines[2]
    for figure in ("20261203-130255-d38616", "interrupted", "35/40", "45.7%"):
        assert figure in row
    assert "A suite whose" in row and "…" in row
    assert lines[-1].startswith(f"not shown at {width} columns: ")
    assert "duration" in lines[-1] and "pass rate" not in lines[-1]


def test_narrower_than_the_figures_runs_over_rather_than_cut_them() -> None:
    lines = _printed(30, RUNS, [ROW])
    assert "20261203-130255-d38616" in lines[2] and "45.7%" in lines[2]


def _in_a_terminal(args: list[str], cwd: Path, env: dict[str, str], columns: int) -> str:
    """Runs prompteur with a pseudo-terminal as its output, ``columns`` wide."""
    import fcntl
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "prompteur", *args],
        cwd=cwd,
        env={**env, "TERM": "xterm", "COLUMNS": str(columns)},
        stdout=follower,
        stderr=follower,
        stdin=subprocess.DEVNULL,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(leader)
    return ANSI.sub("", b"".join(chunks).decode()).replace("\r", "")


def test_runs_and_the_summary_fit_an_80_column_terminal(tmp_path: Path) -> None:
    (tmp_path / "suite.yaml").write_text(
        f"description: {LONG_SUITE}\n"
        "prompts:\n  - label: a prompt with a rather long label of its own\n"
        "    raw: 'Say {{word}}'\n"
        "providers: [echo]\n"
        "tests:\n"
        + "".join(
            f"  - vars: {{word: w{i}}}\n    assert: [{{type: equals, value: Say w1}}]\n"
            for i in range(12)
        )
    )
    env = {**os.environ, "PROMPTEUR_DB": f"sqlite:///{tmp_path / 'store.db'}"}
    evaluated = _in_a_terminal(["eval", "suite.yaml", "--no-progress"], tmp_path, env, 80)
    listing = _in_a_terminal(["runs"], tmp_path, env, 80)
    run_id = re.search(r"run (\d{8}-\d{6}-[0-9a-f]{6})", evaluated)
    assert run_id is not None, evaluated
    table = evaluated[evaluated.index("prompt ") :].split("\n\n")[0].splitlines()
    assert all(len(line) <= 80 for line in table), table
    assert "8% (1/12)" in table[2]
    rows = [line for line in listing.splitlines() if line.startswith(run_id[1])]
    assert rows, listing
    assert all(len(line) <= 80 for line in listing.splitlines())
    assert "12/12" in rows[0] and "8.3%" in rows[0] and "finished" in rows[0]
