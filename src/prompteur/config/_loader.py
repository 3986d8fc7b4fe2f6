"""Reading a suite file into a validated :class:`Suite`."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from ..core._errors import Location, SuiteError
from ._errors import located_validation_error
from ._models import Suite
from ._reading import display_path, read_text
from ._source import Origin, SourceFile, parse_yaml

__all__ = ["DEFAULT_SUITE_NAMES", "find_suite", "load_suite"]

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
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise located_validation_error(exc, Origin(source, ()), Suite) from None
    suite._base_dir = path.resolve().parent
    suite._source = source
    return suite
