"""Suite files: the schema (promptfoo's vocabulary), loading, and located errors."""

from ._loader import DEFAULT_SUITE_NAMES, find_suite, load_suite
from ._models import (
    Assertion,
    EvaluateOptions,
    PromptSpec,
    ProviderSpec,
    Suite,
    TestCase,
    TestOptions,
)
from ._tests import ResolvedTest, parse_compact_assertion, resolve_tests

__all__ = [
    "DEFAULT_SUITE_NAMES",
    "Assertion",
    "EvaluateOptions",
    "PromptSpec",
    "ProviderSpec",
    "ResolvedTest",
    "Suite",
    "TestCase",
    "TestOptions",
    "find_suite",
    "load_suite",
    "parse_compact_assertion",
    "resolve_tests",
]
