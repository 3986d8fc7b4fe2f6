"""``prompteur eval --watch``: run the suite again whenever a file of its folder changes.
Files are polled (their modification time and size), which needs no dependency and works
alike on every file system; the completion cache makes a re-run pay only for the cells
the edit changed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["watch", "watched_files"]

#: seconds between two looks at the files
POLL_INTERVAL_S = 0.5
#: folders that hold what runs write (the store, caches, environments), not what they read
_SKIPPED = frozenset({"node_modules", "__pycache__", "venv"})
#: past this many files, a folder is too big to poll (a home directory, a repository root)
MAX_FILES = 20_000

Snapshot = dict[str, tuple[int, int]]


def watched_files(folder: Path, also: Path | None = None) -> Iterator[Path]:
    """The files of ``folder`` and its sub-folders (hidden ones and caches left out), and
    ``also`` (the suite file, which may lie elsewhere)."""
    if also is not None:
        yield also
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIPPED]
        for name in files:
            if not name.startswith("."):
                yield Path(root) / name


#: what runs write beside the suite: a SQLite store's files
_WRITTEN_SUFFIXES = (".db", ".db-wal", ".db-shm", ".db-journal", ".sqlite")


def _own_output() -> set[tuple[int, int]]:
    """The files this process writes its output to (``> log.txt`` in the suite's folder
    would otherwise start a run after every run)."""
    found = set()
    for fd in (1, 2):
        try:
            stat = os.fstat(fd)
        except OSError:
            continue
        found.add((stat.st_dev, stat.st_ino))
    return found


def snapshot(folder: Path, also: Path | None = None) -> Snapshot:
    seen: Snapshot = {}
    own = _own_output()
    for path in watched_files(folder, also):
        if len(seen) >= MAX_FILES:
            break
        if path.name.endswith(_WRITTEN_SUFFIXES):
            continue
        try:
            stat = path.stat()
        except OSError:  # removed meanwhile: the next look tells
            continue
        if (stat.st_dev, stat.st_ino) in own:
            continue
        seen[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return seen


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def watch(folder: Path, suite_file: Path | None, run: Callable[[], Callable[[], None]]) -> None:
    """Call ``run`` now and after every change under ``folder``, until Ctrl-C (which ends
    here as KeyboardInterrupt); what it returns shows the run's outcome. The files are
    looked at after the run, so what it writes (reports) does not start another, and
    before the outcome is shown, so an edit made on seeing it is not missed."""
    import click

    while True:
        show = run()
        before = snapshot(folder, suite_file)
        show()
        click.echo(f"watching {folder} for changes (Ctrl-C ends)", err=True)
        while True:
            time.sleep(POLL_INTERVAL_S)
            now = snapshot(folder, suite_file)
            if changed(before, now):
                # an editor may write a file in steps: wait until it looks settled
                time.sleep(POLL_INTERVAL_S)
                settled = snapshot(folder, suite_file)
                paths = changed(before, settled)
                if paths:
                    shown = ", ".join(Path(p).name for p in paths[:3])
                    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
                    click.echo(f"changed: {shown}{more}; running again", err=True)
                    break
