"""The http provider's small languages: ``transformResponse`` and ``sessionParser`` as
paths into the answer (``json.choices[0].message.content``, ``data.headers['x-id']``) or
Python functions (``file://transform.py:fn``), and ``validateStatus`` as a comparison of
``status``. promptfoo writes these in JavaScript; the paths and comparisons are the part of
JavaScript that needs no engine, and the rest is refused in one line."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..core._errors import PermanentProviderError, SuiteError
from ..core._pyload import load_callable, parse_callable_ref

__all__ = ["compile_path_or_function", "compile_status_check"]

_PATH = re.compile(
    r"""^(?P<root>[A-Za-z_$][\w$]*)(?P<rest>(?:\s*(?:\??\.\s*[A-Za-z_$][\w$]*|\[\s*(?:\d+|'[^']*'|"[^"]*")\s*\]))*)\s*;?$"""
)
_STEP = re.compile(r"""\??\.\s*([A-Za-z_$][\w$]*)|\[\s*(\d+|'[^']*'|"[^"]*")\s*\]""")
# `(json) => json.a`, `json => json.a`, `(json, text) => json.a`: one path as a function body
_ARROW = re.compile(r"^\(?\s*([\w$]+)(?:\s*,\s*[\w$]+)*\s*\)?\s*=>\s*(.+)$", re.DOTALL)

Extractor = Callable[[Mapping[str, Any]], Any]


def _no_engine(source: str) -> SuiteError:
    shown = " ".join(source.split())
    shown = shown if len(shown) <= 60 else shown[:59] + "…"
    return SuiteError(
        f"'{shown}' is JavaScript, and no JavaScript engine is available here; write it "
        "as a path (json.choices[0].message.content) or a Python function "
        "(file://transform.py:fn)"
    )


def _steps(rest: str) -> list[str | int]:
    steps: list[str | int] = []
    for name, index in _STEP.findall(rest):
        if name:
            steps.append(name)
        elif index[0] in "'\"":
            steps.append(index[1:-1])
        else:
            steps.append(int(index))
    return steps


def _walk(value: Any, steps: list[str | int]) -> Any:
    for step in steps:
        if isinstance(step, int) and isinstance(value, list):
            value = value[step] if -len(value) <= step < len(value) else None
        elif isinstance(value, Mapping):
            value = value.get(step if isinstance(step, str) else str(step))
        elif step == "length" and isinstance(value, list | str):
            value = len(value)
        else:
            return None
    return value


def _path(source: str, roots: tuple[str, ...], alias: str | None = None) -> Extractor | None:
    match = _PATH.match(source.strip())
    if match is None:
        return None
    root = match["root"]
    if alias is not None and root == alias:
        root = roots[0]
    if root not in roots:
        return None
    steps = _steps(match["rest"])
    return lambda scope: _walk(scope.get(root), steps)


def compile_path_or_function(
    key: str, source: str, roots: tuple[str, ...], base_dir: Path
) -> Extractor:
    """An extractor from the answer's scope (``json``, ``text``, ``data``...). ``source``
    is a path, an arrow function whose body is a path, or ``file://x.py:fn`` (called with
    the scope's values as keyword arguments it accepts, or the first positionally)."""
    text = source.strip()
    if text.startswith("file://"):
        ref = parse_callable_ref(text)
        if ref is None:
            raise _no_engine(text)
        path, function = ref
        fn = load_callable(path, function or _default_function(key), base_dir)
        return lambda scope: _call(fn, scope, roots)
    found = _path(text, roots)
    if found is not None:
        return found
    arrow = _ARROW.match(text)
    if arrow is not None:
        found = _path(arrow[2].strip().removeprefix("return ").strip(), roots, arrow[1])
        if found is not None:
            return found
    raise _no_engine(text)


def _default_function(key: str) -> str:
    names = {
        "transformResponse": "transform_response",
        "sessionParser": "session_parser",
        "transformRequest": "transform_request",
    }
    return names.get(key, "transform")


def _call(fn: Callable[..., Any], scope: Mapping[str, Any], roots: tuple[str, ...]) -> Any:
    try:
        return fn(*(scope.get(root) for root in roots))
    except Exception as exc:
        raise PermanentProviderError(f"{getattr(fn, '__name__', 'transform')}: {exc}") from exc


_JS_OPERATORS = (("===", "=="), ("!==", "!="), ("&&", " and "), ("||", " or "))


def compile_status_check(source: str) -> Callable[[int], bool]:
    """``validateStatus``: which statuses are answers. ``(status) => status < 500``,
    ``status >= 200 && status < 300``: comparisons of ``status`` joined by && and ||."""
    text = source.strip()
    arrow = _ARROW.match(text)
    name = "status"
    if arrow is not None:
        name, text = arrow[1], arrow[2].strip().removeprefix("return ").rstrip(";").strip()
    for js, python in _JS_OPERATORS:
        text = text.replace(js, python)
    text = re.sub(r"!(?!=)", " not ", text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise _no_engine(source) from None
    if not _plain(tree.body, name):
        raise _no_engine(source)
    code = compile(tree, "<validateStatus>", "eval")
    return lambda status: bool(eval(code, {"__builtins__": {}}, {name: status}))


def _plain(node: ast.AST, name: str) -> bool:
    """Whether the expression holds only comparisons, and/or/not, numbers and ``name``."""
    if isinstance(node, ast.BoolOp):
        return all(_plain(v, name) for v in node.values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _plain(node.operand, name)
    if isinstance(node, ast.Compare):
        return _plain(node.left, name) and all(_plain(c, name) for c in node.comparators)
    if isinstance(node, ast.Name):
        return node.id == name
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float | bool)
    if isinstance(node, ast.Tuple | ast.List):
        return all(_plain(e, name) for e in node.elts)
    return False
