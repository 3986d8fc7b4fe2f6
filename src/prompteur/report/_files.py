"""Report files appear whole or not at all: written beside their target, then moved into
place; a target that cannot be written is refused before any model is called."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import IO

from ..core._errors import PrompteurError

__all__ = ["check_writable", "commit_file", "open_beside", "write_atomically"]


@functools.cache
def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file (0666 less the umask): mkstemp's
    0600 would hide reports from the other users of a CI machine."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _refused(path: Path, exc: OSError) -> PrompteurError:
    return PrompteurError(f"cannot write {path}: {exc.strerror or exc}")


def check_writable(path: Path) -> None:
    """Raise a one-line error now if a report could not be written to ``path`` later: a
    file is made beside it and removed again, since permission bits do not tell (a
    read-only mount, /sys, or root, whom they do not stop)."""
    if path.is_dir():
        raise PrompteurError(f"cannot write {path}: it is a folder")
    for folder in (path.parent, *path.parent.parents):
        if folder.exists():
            if not folder.is_dir():  # mkdir would only say "File exists"
                raise PrompteurError(f"cannot write {path}: {folder} is a file, not a folder")
            break
    fd, probe = _make_beside(path)
    os.close(fd)
    os.unlink(probe)


def _make_beside(path: Path) -> tuple[int, str]:
    """A new, empty temporary file in the target's folder (made if need be): its
    descriptor and name."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise _refused(path, exc) from None


def open_beside(path: Path) -> tuple[IO[str], str]:
    """A new temporary file in the target's folder, and its name."""
    fd, tmp = _make_beside(path)
    os.fchmod(fd, _file_mode())
    return os.fdopen(fd, "w", encoding="utf-8", newline=""), tmp


def commit_file(handle: IO[str], tmp: str, path: Path) -> None:
    """Close the temporary file and move it onto the target."""
    handle.close()
    try:
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _refused(path, exc) from None


def write_atomically(path: Path, text: str) -> None:
    handle, tmp = open_beside(path)
    with handle:
        handle.write(text)
    commit_file(handle, tmp, path)
