"""Pass rates on ``prompteur eval``'s command line, checked so that a CI gate cannot
misread them."""

from __future__ import annotations

import math
from typing import Any

import click

__all__ = ["FiniteFloatRange", "RateType"]


def rate(value: str) -> float:
    """A fraction between 0 and 1 from ``0.9`` or ``90%``; BadParameter otherwise."""
    text = value.strip()
    try:
        number = float(text.removesuffix("%"))
        if not math.isfinite(number):
            raise ValueError(text)
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


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that refuses NaN, which compares false to every bound and so slips
    through one, and infinities, which no option of ours can mean."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if isinstance(number, float) and not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number
