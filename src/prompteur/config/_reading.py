"""Reading the files a suite names: missing, unreadable, not UTF-8 or (for an untrusted
suite) out of bounds, each is one located error."""

from __future__ import annotations

import os
from pathlib import Path

from ..core._errors import Location, SuiteError
from ..core._trust import check_path

__all__ = ["display_path", "read_text"]


def display_path(path: Path) -> str:
    """The path as a user would type it: relative to the working directory when inside it."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def read_text(path: Path, referrer: Location | None) -> str:
    """Read a file a suite names, with a located error when it is missing or unreadable.
    A UTF-8 byte-order mark (which Windows editors write) is dropped: left in, it would
    open the first prompt or hide a .prompty file's frontmatter. An untrusted suite reads
    no file outside its folder (see ``prompteur.core._trust``)."""
    check_path(path, referrer)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SuiteError(f"file not found: {display_path(path)}", referrer) from None
    except IsADirectoryError:
        raise SuiteError(
            f"expected a file, found a directory: {display_path(path)}", referrer
        ) from None
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None
    except OSError as exc:
        raise SuiteError(f"cannot read {display_path(path)}: {exc.strerror}", referrer) from None


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> SuiteError:
    """The error at the first byte that is not UTF-8, by line and column (in bytes)."""
    data = exc.object
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    return SuiteError(
        f"not UTF-8 text: the byte 0x{data[exc.start]:02x} is not valid here; "
        "save the file as UTF-8",
        Location(display_path(path), line, column),
    )
