"""Test vars as promptfoo prepares them before a prompt is rendered: ``file://`` vars
loaded (text trimmed, a glob making one value per file, ``.py`` files asked for their
``get_var``), one trailing newline cut from text values, and vars that name other vars
(``sentence: 'a tweet about {{topic}}'``) filled in."""

from __future__ import annotations

import glob
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core import _pyload
from ..core._errors import Location, SuiteError
from ..core._time_limit import TimeLimitExceeded, call_with_time_limit
from ..core._trust import check_path
from ._media import read_media
from ._reading import read_text
from ._source import read_structured

__all__ = ["filled_vars", "load_var_file", "settled_vars", "with_vars_files"]

#: Seconds a var file's get_var may take.
GET_VAR_SECONDS = 30.0

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def load_var_file(
    name: str, value: str, folder: Path, where: Location | None, variables: Mapping[str, Any]
) -> Any:
    """A ``file://`` var's value; a glob gives the list of its files' values (the test
    then expands into one case per file)."""
    written = value.removeprefix("file://")
    if glob.has_magic(written):
        paths = sorted(Path(p) for p in glob.glob(str(folder / written), recursive=True))
        paths = [p for p in paths if p.is_file()]
        if not paths:
            raise SuiteError(f"no file matches {written}", where)
        return [_load_one(name, p, where, variables) for p in paths]
    return _load_one(name, folder / written, where, variables)


def _load_one(name: str, path: Path, where: Location | None, variables: Mapping[str, Any]) -> Any:
    media = read_media(path, where)  # an image, audio or PDF: a data: URL
    if media is not None:
        return media
    suffix = path.suffix.lower()
    if suffix in {".json", ".yaml", ".yml"}:
        return read_structured(path, where)
    if suffix == ".py":
        return _get_var(name, path, where, variables)
    return read_text(path, where).strip()  # promptfoo trims a text file


def _get_var(name: str, path: Path, where: Location | None, variables: Mapping[str, Any]) -> str:
    """promptfoo's contract: ``get_var(var_name, prompt, other_vars)`` returns
    ``{"output": text}`` or ``{"error": message}``. The prompt is not known when vars are
    read: it is given as ''."""
    check_path(path, where)  # an untrusted suite runs no Python: said at the var
    try:
        function = _pyload.load_callable(str(path), "get_var", Path())
        label = f"{path.name}:get_var"
        result = call_with_time_limit(GET_VAR_SECONDS, label, function, name, "", dict(variables))
    except SuiteError as exc:
        raise SuiteError(exc.message, where) from None
    except TimeLimitExceeded as exc:  # a BaseException: so that checks cannot swallow it
        raise SuiteError(f"{path.name}: {exc}", where) from None
    except Exception as exc:
        raise SuiteError(
            f"{path.name}: get_var raised {type(exc).__name__}: {exc}", where
        ) from None
    if isinstance(result, Mapping) and result.get("error"):
        raise SuiteError(f"{path.name}: get_var says: {result['error']}", where)
    output = result.get("output") if isinstance(result, Mapping) else None
    if not isinstance(output, str) or not output:
        raise SuiteError(
            f"{path.name}: get_var must return {{'output': text}}, not {result!r:.80}", where
        )
    return output.strip()


def settled_vars(variables: dict[str, Any]) -> dict[str, Any]:
    """One trailing newline cut from text values (a YAML ``|`` block's), then vars that
    name other vars filled in (:func:`filled_vars`), as promptfoo renders them."""
    return filled_vars(
        {k: v[:-1] if isinstance(v, str) and v.endswith("\n") else v for k, v in variables.items()}
    )


def filled_vars(variables: dict[str, Any]) -> dict[str, Any]:
    """Vars that name other vars (``{{other}}``) filled in, five rounds at most; no newline
    cut, so vars settled already can be filled again with others laid over them."""
    settled = dict(variables)
    for _ in range(5):
        changed = False
        for key, value in settled.items():
            if not isinstance(value, str) or "{{" not in value:
                continue
            match = _PLACEHOLDER.search(value)
            if match and match[1] in settled and settled[match[1]] is not None:
                replacement = settled[match[1]]
                text = replacement if isinstance(replacement, str) else str(replacement)
                settled[key] = value.replace(match[0], text, 1)
                changed = True
        if not changed:
            break
    return settled


def _is_data_path(value: Any) -> bool:
    return isinstance(value, str) and value.lower().endswith((".yaml", ".yml", ".json"))


def with_vars_files(record: Any, base_dir: Path, where: Location | None) -> Any:
    """A test whose ``vars`` is a path or a list of paths to .yaml, .yml or .json files
    (globs allowed, relative to the file that writes the test), as promptfoo takes them:
    the vars are those files' mappings, merged in order. Any other test is returned as it
    is."""
    if not isinstance(record, dict):
        return record
    given = record.get("vars")
    if isinstance(given, str):
        given = [given]
    if not (isinstance(given, list) and given and all(_is_data_path(p) for p in given)):
        return record  # a list of words is a shape error, said as such
    merged: dict[str, Any] = {}
    for pattern in given:
        pattern = pattern.removeprefix("file://")
        found = sorted(glob.glob(str(base_dir / pattern)))
        if not found:
            raise SuiteError(f"no vars file matches {pattern}", where)
        for name in found:
            data = read_structured(Path(name), where)
            if not isinstance(data, dict):
                raise SuiteError(f"vars file {Path(name).name} must hold a mapping of vars", where)
            merged.update(data)
    return {**record, "vars": merged}
