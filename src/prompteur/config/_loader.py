"""Reading a suite file into a validated :class:`Suite`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..core._errors import Location, SuiteError
from ._errors import located_validation_error
from ._foreign_keys import without_foreign_keys
from ._models import Suite
from ._reading import display_path, read_text
from ._source import Origin, SourceFile, parse_yaml
from ._var_files import with_vars_files

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
    data = without_foreign_keys(dereferenced(data, source), source)
    data = _inline_vars_files(data, path.resolve().parent, source)
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise located_validation_error(exc, Origin(source, ()), Suite) from None
    suite._base_dir = path.resolve().parent
    suite._source = source
    return suite


#: How deep references may lead through one another (a cycle stops here).
_MAX_REF_DEPTH = 32


def dereferenced(data: dict[str, Any], source: SourceFile) -> dict[str, Any]:
    """The config with each ``{$ref: '#/pointer'}`` replaced by what it points to in the
    config, keys beside ``$ref`` laid over it, as promptfoo dereferences its configs (to
    share assertions, say). A reference that points nowhere in the config is left as it is:
    it is a JSON schema's own, as are those under the tools' and functions' parameters,
    which promptfoo leaves too."""

    def resolve(node: Any, path: tuple[str | int, ...], depth: int) -> Any:
        if isinstance(node, list):
            return [resolve(item, (*path, i), depth) for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if path[-1:] == ("parameters",) and ("functions" in path or "tools" in path):
            return node
        ref = node.get("$ref")
        target = _pointed(data, ref) if isinstance(ref, str) else None
        if target is None:
            return {k: resolve(v, (*path, k), depth) for k, v in node.items()}
        if depth >= _MAX_REF_DEPTH:
            raise SuiteError(
                f"the reference '{ref}' leads through more than {_MAX_REF_DEPTH} others (a cycle?)",
                source.location(path),
            )
        found = resolve(target[0], path, depth + 1)
        beside = {k: resolve(v, (*path, k), depth) for k, v in node.items() if k != "$ref"}
        if beside and isinstance(found, dict):
            return {**found, **beside}
        return found

    resolved = resolve(data, (), 0)
    assert isinstance(resolved, dict)
    return resolved


def _pointed(data: Any, ref: str) -> tuple[Any] | None:
    """What a local JSON pointer (``#/a/0/b``) points to, in a 1-tuple; None if nothing."""
    if not ref.startswith("#/"):
        return None
    node = data
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return (node,)


def _inline_vars_files(data: dict[str, Any], folder: Path, source: SourceFile) -> dict[str, Any]:
    """The suite's inline tests (and defaultTest) with vars given as files read."""
    tests = data.get("tests")
    if isinstance(tests, list):
        data = {
            **data,
            "tests": [
                with_vars_files(t, folder, source.location(("tests", i, "vars")))
                if isinstance(t, dict) and isinstance(t.get("vars"), str | list)
                else t
                for i, t in enumerate(tests)
            ],
        }
    default = data.get("defaultTest")
    if isinstance(default, dict) and isinstance(default.get("vars"), str | list):
        where = source.location(("defaultTest", "vars"))
        data = {**data, "defaultTest": with_vars_files(default, folder, where)}
    return data
