"""What ``prompteur eval`` checks of its command line before any model is called: pass
rates that a CI gate cannot misread, and report paths that can really be written."""

from __future__ import annotations

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
    """The writers of the reports asked for, once each could really be written (see
    ``report._files.check_writable``): a report that cannot be written is refused before
    any model is called or any run recorded."""
    return output_sinks(paths)
