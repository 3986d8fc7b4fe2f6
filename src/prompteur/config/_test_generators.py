"""Test generators, as promptfoo calls them: ``tests: file://gen.py:fn`` (``generate_tests``
by default) or ``file://gen.js[:fn]``, alone or as ``{path, config}``. A Python function is
called with ``config`` when one is given (else with nothing), a JavaScript export with
``config`` (a JavaScript export that is not a function is the list itself); either returns
a list of test cases."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..core import _pyload
from ..core._errors import Location, SuiteError
from ..core._js import JavaScriptError, js_file_function
from ..core._time_limit import call_with_time_limit

__all__ = ["GENERATOR_SECONDS", "generated_tests", "is_generator"]

#: Seconds a generator may take to give its tests.
GENERATOR_SECONDS = 300.0

_GENERATOR = re.compile(
    r"^(?:file://)?(?P<path>.+?\.(?P<ext>py|js|cjs|mjs))(?::(?P<fn>[A-Za-z_$][\w$]*))?$"
)


def is_generator(ref: str) -> bool:
    """Whether a tests reference names code (a .py or .js file) rather than data."""
    return _GENERATOR.match(ref.strip()) is not None


def generated_tests(
    ref: str, config: dict[str, Any] | None, base_dir: Path, where: Location | None
) -> list[Any]:
    """The raw test cases the generator ``ref`` returns."""
    match = _GENERATOR.match(ref.strip())
    if match is None:
        raise SuiteError(f"{ref} is not a .py or .js test generator", where)
    path, function = match["path"], match["fn"]
    label = f"{Path(path).name}:{function or ('generate_tests' if match['ext'] == 'py' else '')}"
    try:
        if match["ext"] == "py":
            generate = _pyload.load_callable(path, function or "generate_tests", base_dir)
            args = () if config is None else (config,)
            result = call_with_time_limit(GENERATOR_SECONDS, label, generate, *args)
        else:
            js = js_file_function(path, function, base_dir, "tests", call_values=True)
            result = js(config)
    except SuiteError as exc:
        raise SuiteError(exc.message, where) from None
    except JavaScriptError as exc:
        raise SuiteError(str(exc), where) from None
    except Exception as exc:
        raise SuiteError(
            f"test generator {label.rstrip(':')} raised {type(exc).__name__}: {exc}", where
        ) from None
    if isinstance(result, tuple):
        result = list(result)
    if not isinstance(result, list):
        raise SuiteError(
            f"test generator {label.rstrip(':')} must return a list of test cases, "
            f"not {type(result).__name__}",
            where,
        )
    return result
