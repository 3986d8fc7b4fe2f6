"""The counterfactual swap lists: the ones prompteur ships (``data/swaps.yaml``) and those a
user adds with ``--swaps FILE`` (YAML or JSON, the same shape), checked and merged."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..core._errors import PrompteurError

__all__ = ["LANGUAGES", "NAME_ATTRIBUTES", "SwapTable", "load_swaps"]

LANGUAGES = ("en", "fr")
#: attributes made from the first-name lists rather than from word lists
NAME_ATTRIBUTES = ("name-gender", "origin")
GENDERS = ("male", "female")

# attribute → group → language → form → words (the first is what others become)
Words = dict[str, dict[str, dict[str, dict[str, tuple[str, ...]]]]]


@dataclass(frozen=True)
class SwapTable:
    """Every swap known: word lists by attribute, group, language and form, and first names
    by origin and gender (the i-th name of a list stands for the i-th of the others)."""

    words: Words
    names: dict[str, dict[str, tuple[str, ...]]]

    @property
    def attributes(self) -> tuple[str, ...]:
        """Every attribute these lists can swap."""
        named = NAME_ATTRIBUTES if self.names else ()
        return (*self.words, *(a for a in named if a not in self.words))


def _fail(where: str, problem: str) -> PrompteurError:
    return PrompteurError(f"{where}: {problem} (see 'prompteur bias --help' for the shape)")


def _words(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise _fail(where, "must be a word or a list of words")
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise _fail(where, f"holds {item!r}, which is not a word")
    return tuple(item.strip() for item in items)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, "must be a mapping")
    return value


def _merge(table: SwapTable, data: Any, source: str) -> SwapTable:
    data = _mapping(data, source)
    unknown = set(data) - {"version", "attributes", "names"}
    if unknown:
        raise _fail(source, f"unknown key '{sorted(unknown)[0]}' (use attributes or names)")
    words: Words = {
        attribute: {g: {lang: dict(f) for lang, f in v.items()} for g, v in groups.items()}
        for attribute, groups in table.words.items()
    }
    names = {origin: dict(by_gender) for origin, by_gender in table.names.items()}
    for attribute, spec in _mapping(data.get("attributes", {}), f"{source}: attributes").items():
        at = f"{source}: attributes.{attribute}"
        values = _mapping(_mapping(spec, at).get("values"), f"{at}.values")
        groups = words.setdefault(str(attribute), {})
        for group, languages in values.items():
            for language, forms in _mapping(languages, f"{at}.values.{group}").items():
                if language not in LANGUAGES:
                    raise _fail(f"{at}.values.{group}", f"unknown language '{language}' (en, fr)")
                known = groups.setdefault(str(group), {}).setdefault(language, {})
                where = f"{at}.values.{group}.{language}"
                for form, listed in _mapping(forms, where).items():
                    given = _words(listed, f"{where}.{form}")
                    old = known.get(str(form), ())
                    known[str(form)] = old + tuple(w for w in given if w not in old)
    for origin, by_gender in _mapping(data.get("names", {}), f"{source}: names").items():
        for gender, listed in _mapping(by_gender, f"{source}: names.{origin}").items():
            if gender not in GENDERS:
                raise _fail(
                    f"{source}: names.{origin}", f"unknown gender '{gender}' (male, female)"
                )
            old = names.setdefault(str(origin), {}).get(gender, ())
            given = _words(listed, f"{source}: names.{origin}.{gender}")
            names[str(origin)][gender] = old + tuple(n for n in given if n not in old)
    return SwapTable(words, names)


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PrompteurError(f"cannot read the swaps file {path}: {exc.strerror}") from None
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PrompteurError(f"{path}: not valid {path.suffix[1:] or 'YAML'}: {first}") from None


def load_swaps(extra: Path | None = None) -> SwapTable:
    """The shipped swap lists, extended by ``extra`` (a YAML or JSON file) when given."""
    shipped = resources.files("prompteur.redteam").joinpath("data/swaps.yaml").read_text("utf-8")
    table = _merge(SwapTable({}, {}), yaml.safe_load(shipped), "swaps.yaml")
    if extra is not None:
        table = _merge(table, _read(extra), str(extra))
    return table
