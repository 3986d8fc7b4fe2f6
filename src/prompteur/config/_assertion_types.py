"""What reading a suite needs to know of the assertion types: whether a name is one, and
every name. The assertion registry stands above config and hands itself down as one of
these (``prompteur.assertions.REGISTERED_TYPES``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

__all__ = ["AssertionTypes", "split_negation"]


class AssertionTypes(Protocol):
    def is_registered(self, base: str) -> bool:
        """Whether ``base`` (a type without ``not-``) is registered."""
        ...

    def names(self) -> Iterable[str]:
        """Every registered type (without the ``not-`` forms)."""
        ...


def split_negation(name: str) -> tuple[str, bool]:
    """``not-contains`` is ``contains`` negated."""
    return (name[4:], True) if name.startswith("not-") else (name, False)
