"""Trusted JavaScript (promptfoo's ``javascript`` assertions and transforms) run in-process
in an embedded QuickJS engine (quickjs-ng), with a time and a memory limit per call.

QuickJS rather than V8 (mini-racer): about 11 µs a call against 700 µs, 17 MB of memory
against 74, 8 MB on disk against 85 (``bench/js_engines.py``). A QuickJS context may only be
used by the thread that made it, so each thread has its own; a function is defined in a
thread's context the first time that thread calls it. Values cross as JSON text.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from ._errors import PrompteurError, SuiteError
from ._trust import check_code, check_path

__all__ = [
    "JS_CALL_SECONDS",
    "JS_MEMORY_BYTES",
    "JavaScriptError",
    "JsFunction",
    "inline_function",
    "js_file_function",
]

#: CPU seconds one call may take before it is stopped.
JS_CALL_SECONDS = 10
#: Memory one thread's JavaScript may hold.
JS_MEMORY_BYTES = 256 * 1024 * 1024

_INSTALL = "JavaScript needs the QuickJS engine, which prompteur installs: pip install quickjs-ng"


class JavaScriptError(PrompteurError):
    """JavaScript that threw, ran too long, ran out of memory or returned no JSON value."""


# Run before any user code in a context: console.* is silent (a check's logging is not its
# verdict), and one helper calls a function on JSON arguments, settling promises.
_PRELUDE = """
globalThis.console = {log() {}, info() {}, warn() {}, error() {}, debug() {}};
globalThis.__pfCall = function (fn, valueJson, contextJson) {
  const value = JSON.parse(valueJson);
  const ctx = JSON.parse(contextJson);
  if (ctx && typeof ctx === 'object' && ctx.provider && typeof ctx.provider.id === 'string') {
    const id = ctx.provider.id;  // promptfoo hands the provider object: id() is a method
    ctx.provider.id = Object.assign(() => id, {toString: () => id});
  }
  const result = fn(value, ctx);
  if (result && typeof result.then === 'function') {
    globalThis.__pfSettled = null;
    result.then(
      (value) => { globalThis.__pfSettled = {value: value === undefined ? null : value}; },
      (error) => { globalThis.__pfSettled = {error: String(error && error.message || error)}; });
    return '"__pfPromise"';
  }
  return JSON.stringify(result === undefined ? null : result);
};
"""

_counter = itertools.count()
_local = threading.local()


def _quickjs() -> Any:
    try:
        import quickjs
    except ImportError:  # pragma: no cover - the extra is installed with dev
        raise SuiteError(_INSTALL) from None
    return quickjs


def _context() -> Any:
    context = getattr(_local, "context", None)
    if context is None:
        context = _quickjs().Context()
        context.set_memory_limit(JS_MEMORY_BYTES)
        context.set_time_limit(JS_CALL_SECONDS)
        context.eval(_PRELUDE)
        _local.context = context
        _local.defined = set()
        _local.limits = (JS_CALL_SECONDS, JS_MEMORY_BYTES)
    return context


def _drop_context() -> None:
    """After running out of memory a context is left unusable: the next call makes anew."""
    _local.context = None


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "interrupted" in first:
        return f"took more than {JS_CALL_SECONDS} s"
    return first


class JsFunction:
    """A JavaScript function (``source`` evaluates to it) of (value, context), callable
    from any thread with JSON-encodable arguments; returns its JSON-decoded result
    (undefined is None)."""

    def __init__(self, source: str, what: str) -> None:
        self.source = source
        self.what = what
        self.name = f"__pfFn{next(_counter)}"

    def define(self) -> Any:
        """Define the function in this thread's context; raise JavaScriptError if it does
        not evaluate to a function (so a suite's mistake is found when it is planned)."""
        context = _context()
        if self.name not in _local.defined:
            quickjs = _quickjs()
            try:
                context.eval(f"globalThis.{self.name} = ({self.source});")
                kind = context.eval(f"typeof globalThis.{self.name}")
            except quickjs.JSException as exc:
                raise JavaScriptError(f"{self.what}: {_message(exc)}") from None
            if kind != "function":
                raise JavaScriptError(f"{self.what} is not a function (it is {kind})")
            _local.defined.add(self.name)
        return context

    def __call__(self, value: Any, context_value: Any = None) -> Any:
        quickjs = _quickjs()
        context = self.define()
        limits = (JS_CALL_SECONDS, JS_MEMORY_BYTES)  # read per call: a test may lower them
        if _local.limits != limits:
            context.set_time_limit(limits[0])
            context.set_memory_limit(limits[1])
            _local.limits = limits
        try:
            call = context.get("__pfCall")
            text = call(context.get(self.name), _encoded(value), _encoded(context_value))
            if text == '"__pfPromise"':
                # each job is timed by the engine, but a promise chain that never ends is
                # an endless series of jobs: the call's time limit holds over all of them
                deadline = time.monotonic() + limits[0]
                while context.execute_pending_job():
                    if time.monotonic() > deadline:
                        _drop_context()
                        raise JavaScriptError(f"{self.what} did not finish within {limits[0]:g} s")
                settled = json.loads(context.eval("JSON.stringify(globalThis.__pfSettled)"))
                if settled is None:
                    raise JavaScriptError(f"{self.what} returned a promise that never settled")
                if "error" in settled:
                    raise JavaScriptError(f"{self.what} threw {settled['error']}")
                return settled["value"]
        except quickjs.JSException as exc:
            if "out of memory" in str(exc):
                _drop_context()
            raise JavaScriptError(f"{self.what} threw {_message(exc)}") from None
        except quickjs.StackOverflow:
            raise JavaScriptError(f"{self.what} threw a stack overflow") from None
        except MemoryError:
            _drop_context()
            raise JavaScriptError(f"{self.what} ran out of memory") from None
        return None if text is None else orjson.loads(text)


def _encoded(value: Any) -> str:
    # orjson: a tenth of json.dumps's time, which was most of a call's
    return orjson.dumps(value, default=str).decode()


_RETURN = re.compile(r"return\b")


def inline_function(code: str, parameters: tuple[str, ...], what: str) -> JsFunction:
    """promptfoo's inline code: an expression, or (on several lines) a function body that
    returns; refused when planning an untrusted suite."""
    check_code(what)
    body = code.strip()
    # promptfoo tells them apart by a newline, which a YAML block's last one (`|`) gives a
    # one-line body whose newline was stripped before it got here: `return ...` is a body
    if "\n" not in body and not _RETURN.match(body):
        body = f"return {body}"
    function = JsFunction(f"function ({', '.join(parameters)}) {{\n{body}\n}}", what)
    function.define()
    return function


_EXPORT_NAMED = re.compile(
    r"^export\s+(?P<kind>(?:async\s+)?function\*?|const|let|var|class)\s+(?P<name>[A-Za-z_$][\w$]*)",
    re.MULTILINE,
)
_EXPORT_LIST = re.compile(r"^export\s*\{(?P<names>[^}]*)\}\s*;?", re.MULTILINE)
_IMPORT = re.compile(r"^\s*import\s.*$", re.MULTILINE)


def _as_commonjs(source: str) -> str:
    """ES module exports as CommonJS ones: the engine evaluates scripts, not modules."""
    names: list[str] = []

    def named(match: re.Match[str]) -> str:
        names.append(match["name"])
        return f"{match['kind']} {match['name']}"

    def listed(match: re.Match[str]) -> str:
        parts = []
        for item in match["names"].split(","):
            pieces = item.split(" as ")
            if item.strip():
                local, exported = pieces[0].strip(), pieces[-1].strip()
                parts.append(f"module.exports[{json.dumps(exported)}] = {local};")
        return " ".join(parts)

    source = _EXPORT_NAMED.sub(named, source)
    source = _EXPORT_LIST.sub(listed, source)
    source = re.sub(r"^export\s+default\s+", "module.exports.default = ", source, flags=re.M)
    tail = "".join(f"\nmodule.exports.{n} = {n};" for n in names)
    return source + tail


def js_file_function(
    path: str, function: str | None, base_dir: Path, what: str, *, call_values: bool = False
) -> JsFunction:
    """``file://x.js`` (its default export, or module.exports when it is a function) or
    ``file://x.js:fn``. Node's modules (require, import) are not available. With
    ``call_values``, the export may also be a value: the function returned then gives it."""
    check_code(what)
    file = base_dir / path
    check_path(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read {path}: {exc}") from None
    imported = _IMPORT.search(text)
    if imported:
        raise SuiteError(
            f"{path}: '{imported.group().strip()[:60]}': imports are not available in the "
            "embedded JavaScript engine (only plain JavaScript, without Node's modules)"
        )
    module = (
        "(function () {\nconst module = {exports: {}}; let exports = module.exports;\n"
        "const require = (name) => { throw new Error(`require('${name}') is not available "
        "in the embedded JavaScript engine`); };\n"
        f"{_as_commonjs(text)}\n;return module.exports; }})()"
    )
    pick = f"m[{json.dumps(function)}]" if function else "(typeof m === 'function' ? m : m.default)"
    source = f"(function () {{ const m = {module}; return {pick}; }})()"
    if call_values:
        source = (
            f"(function () {{ const v = {source}; "
            "return typeof v === 'function' ? v : () => v; })()"
        )
    chosen = JsFunction(source, f"{what} {Path(path).name}" + (f":{function}" if function else ""))
    try:
        chosen.define()
    except JavaScriptError as exc:
        raise SuiteError(str(exc)) from None
    return chosen
