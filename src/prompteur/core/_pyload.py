"""Loading trusted user Python code (python providers and python assertions) in-process.

Files are imported once per process per path and modification time; inline assertion code
is compiled once per distinct source text. This code is trusted: it runs with the full
rights of the process, exactly like a pytest conftest.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

from ._errors import SuiteError
from ._trust import check_code, check_path

__all__ = ["compile_inline", "load_callable", "parse_callable_ref"]

_FILE_REF = re.compile(r"^(?:file://)?(?P<path>[^\s:]+\.py)(?::(?P<fn>[A-Za-z_]\w*))?$")
_modules: dict[tuple[str, float], ModuleType] = {}
_modules_lock = threading.Lock()


def parse_callable_ref(ref: str) -> tuple[str, str | None] | None:
    """Split ``file://path.py:fn`` or ``path.py:fn`` into (path, fn); None if not a file ref."""
    match = _FILE_REF.match(ref.strip())
    if match is None:
        return None
    return match["path"], match["fn"]


def load_callable(path: str, function: str, base_dir: Path) -> Callable[..., Any]:
    """Import ``path`` (relative to ``base_dir``) and return its attribute ``function``;
    refused when planning an untrusted suite."""
    check_code(f"'{path}'")
    check_path(base_dir / path)
    file = (base_dir / path).resolve()
    module = _load_module(file)
    fn = getattr(module, function, None)
    if fn is None or not callable(fn):
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        hint = f"; it defines {', '.join(names)}" if names else ""
        raise SuiteError(f"{path} has no function '{function}'{hint}")
    return fn  # type: ignore[no-any-return]


def _load_module(file: Path) -> ModuleType:
    if not file.is_file():
        raise SuiteError(f"python file not found: {file}")
    key = (str(file), file.stat().st_mtime)
    with _modules_lock:
        if key in _modules:
            return _modules[key]
        digest = hashlib.sha1(str(file).encode()).hexdigest()[:12]
        name = f"prompteur_user_{file.stem}_{digest}"
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise SuiteError(f"cannot import {file}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise SuiteError(f"importing {file.name} failed: {type(exc).__name__}: {exc}") from exc
        _modules[key] = module
        return module


def compile_inline(source: str) -> tuple[CodeType, bool]:
    """Compile inline assertion code: an expression, or a function body that ``return``\\ s;
    refused when planning an untrusted suite.

    Returns the code and whether it is an expression. A body is compiled as the function
    ``_prompteur_assert(output, context)`` for the caller to define once.
    """
    check_code("a python assertion")
    return _compiled(source)


@lru_cache(maxsize=4096)
def _compiled(source: str) -> tuple[CodeType, bool]:
    text = source.strip()
    try:
        return compile(text, "<python assertion>", "eval"), True
    except SyntaxError:
        pass
    body = "\n".join("    " + line for line in text.splitlines())
    wrapped = f"def _prompteur_assert(output, context):\n{body}\n"
    try:
        return compile(wrapped, "<python assertion>", "exec"), False
    except SyntaxError as exc:
        raise SuiteError(
            f"python assertion does not compile: {exc.msg} (line {exc.lineno})"
        ) from None
