"""Reading a suite file into a validated :class:`Suite`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..core._errors import Location, SuiteError, did_you_mean
from ._errors import located_validation_error
from ._models import Suite
from ._reading import display_path, read_text
from ._source import Origin, SourceFile, parse_yaml

__all__ = ["DEFAULT_SUITE_NAMES", "find_suite", "load_suite"]

_LOG = logging.getLogger("prompteur.suite")

#: The top-level keys of promptfoo's config schema. One of them that prompteur does not
#: read is refused (its feature would be lost); a key neither knows is ignored with a
#: warning, as promptfoo ignores it.
PROMPTFOO_TOP_LEVEL = frozenset(
    {
        "tags",
        "description",
        "providers",
        "targets",
        "prompts",
        "tests",
        "scenarios",
        "defaultTest",
        "outputPath",
        "sharing",
        "nunjucksFilters",
        "env",
        "derivedMetrics",
        "extensions",
        "metadata",
        "redteam",
        "writeLatestResults",
        "tracing",
        "evaluateOptions",
        "commandLineOptions",
    }
)

DEFAULT_SUITE_NAMES = (
    "prompteur.yaml",
    "prompteur.yml",
    "promptfooconfig.yaml",
    "promptfooconfig.yml",
)


def find_suite(folder: Path) -> Path:
    """The suite file of a folder, by its conventional names."""
    for name in DEFAULT_SUITE_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    here = folder.resolve() == Path.cwd().resolve()
    where = "this folder" if here else f"{display_path(folder)}{os.sep}"
    raise SuiteError(
        f"no suite file in {where}: expected one of {', '.join(DEFAULT_SUITE_NAMES)} "
        f"(or run 'prompteur init{'' if here else ' ' + display_path(folder)}')"
    )


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file (YAML or JSON; promptfoo's format)."""
    path = Path(path)
    if path.is_dir():
        path = find_suite(path)
    text = read_text(path, None)
    source = SourceFile.structured(path, text)
    data = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise SuiteError(
            "a suite file must be a mapping of keys (prompts, providers, tests...)",
            Location(source.name, 1, 1),
        )
    data = _without_foreign_keys(data, source)
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise located_validation_error(exc, Origin(source, ()), Suite) from None
    suite._base_dir = path.resolve().parent
    suite._source = source
    return suite


def _without_foreign_keys(data: dict[str, Any], source: SourceFile) -> dict[str, Any]:
    """The suite without the top-level keys that neither prompteur nor promptfoo reads
    (promptfoo warns about them and runs): each is named in a warning."""
    ours = set(Suite.model_fields) | {
        field.alias for field in Suite.model_fields.values() if field.alias
    }
    foreign = [
        key
        for key in data
        if isinstance(key, str)
        and key not in ours
        and key not in PROMPTFOO_TOP_LEVEL
        and not key.startswith("$")  # $schema and the like
    ]
    for key in foreign:
        where = source.location((key,), at_key=True)
        _LOG.warning(
            "warning: %s: key '%s' is not part of prompteur's or promptfoo's config and is "
            "ignored, as promptfoo ignores it%s",
            where,
            key,
            did_you_mean(key, sorted(ours)),
        )
    return {k: v for k, v in data.items() if k not in foreign} if foreign else data
