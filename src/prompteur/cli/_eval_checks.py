"""What ``prompteur eval`` checks of its command line before any model is called: pass
rates that a CI gate cannot misread, and report paths that can really be written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._common import output_sinks

if TYPE_CHECKING:
    from ..eval._sinks import ResultSink

__all__ = ["RateType", "checked_outputs", "rate"]


def rate(value: str) -> float:
    """A fraction between 0 and 1 from ``0.9`` or ``90%``; BadParameter otherwise."""
    text = value.strip()
    try:
        number = float(text.removesuffix("%"))
    except ValueError:
        raise click.BadParameter(
            f"expected a fraction like 0.8 or a percentage like 80%, got {value!r}"
        ) from None
    if text.endswith("%"):
        if not 0 <= number <= 100:
            raise click.BadParameter(
                f"a pass rate lies between 0% and 100%, or 0 and 1, got {value!r}"
            )
        return number / 100
    if not 0 <= number <= 1:
        # 90 or 1.5 could mean 90%, 1.5% or a typo for 0.9: a CI gate must not guess
        hint = f" (write {number:g}% for a percentage)" if 1 < number <= 100 else ""
        raise click.BadParameter(
            f"a pass rate lies between 0 and 1, or 0% and 100%, got {value!r}{hint}"
        )
    return number


class RateType(click.ParamType):  # type: ignore[type-arg]
    """A pass rate: a fraction (0.9) or a percentage (90%)."""

    name = "RATE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            return rate(str(value))
        except click.BadParameter as exc:
            self.fail(exc.message, param, ctx)


def checked_outputs(paths: Sequence[Path]) -> list[ResultSink]:
    """The writers of the reports asked for, once each could really be written: a file is
    made beside each target and removed again, since permission bits do not tell (a
    read-only mount, /sys, or root, whom they do not stop). A report that cannot be
    written is refused before any model is called or any run recorded."""
    from ..errors import PrompteurError

    for path in paths:
        # a file where a folder should be: mkdir would only say "File exists"
        for folder in (path.parent, *path.parent.parents):
            if folder.exists():
                if not folder.is_dir():
                    raise PrompteurError(f"cannot write {path}: {folder} is a file, not a folder")
                break
    sinks = output_sinks(paths)  # the format by the extension; the folder made
    for path in paths:
        try:
            fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        except OSError as exc:
            raise PrompteurError(f"cannot write {path}: {exc.strerror or exc}") from None
        os.close(fd)
        os.unlink(probe)
    return sinks
