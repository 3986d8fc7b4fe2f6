"""The assertion registry: assertion types are factories registered by name.

A factory receives the assertion's :class:`AssertionSpec` once, at planning time, validates it
(raising :class:`AssertionValueError` for a bad value, before any model is called) and returns
a grader: a function, or a coroutine function, from a :class:`GradingContext` to a
:class:`GradeResult`. Every type also exists negated as ``not-<type>``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from ..config._assertion_types import split_negation
from ..core._errors import Location, PrompteurError, SuiteError, did_you_mean

if TYPE_CHECKING:
    from ..providers._base import DeclaredTools
    from ._judge import Judge, JudgePool

__all__ = [
    "IGNORES_THRESHOLD",
    "REGISTERED_TYPES",
    "AssertionSpec",
    "AssertionValueError",
    "GradeResult",
    "Grader",
    "GradingContext",
    "RegisteredAssertion",
    "assertion",
    "assertion_types",
    "check_assertion_type",
    "get_assertion",
    "split_negation",
]


@dataclass(frozen=True, slots=True)
class GradeResult:
    """A grader's verdict. ``reason`` states what was observed, so it reads right negated too.
    ``undecided`` marks a check that could not be made (the cost is unknown...): it fails
    in its ``not-`` form as well."""

    passed: bool
    score: float
    reason: str
    undecided: bool = False


@dataclass(frozen=True, slots=True)
class AssertionSpec:
    """What an assertion factory is given: the type without ``not-``, and its settings."""

    type: str
    value: Any
    threshold: float | None
    negate: bool = False
    base_dir: Path = field(default_factory=Path.cwd)
    options: Mapping[str, Any] = field(default_factory=dict)
    provider: Any = None  # the assertion's own grader provider, if it names one
    judges: JudgePool | None = None  # the plan's grader providers
    origin: Location | None = None  # where the assertion is written (for grader errors)
    config: Mapping[str, Any] | None = None  # the assertion's ``config`` (code checks see it)
    #: extracts the context of context checks from the output (``contextTransform``)
    context_transform: Callable[[Any, dict[str, Any]], Any] | None = None

    def judge(self) -> Judge:
        """The grader of a model-graded assertion: its own ``provider``, else the test's
        ``options.provider``, else the embedded model."""
        from ._judge import JudgePool

        pool = self.judges or JudgePool(self.base_dir, {})
        setting = self.provider if self.provider is not None else self.options.get("provider")
        return pool.judge(setting, self.origin)


@dataclass(frozen=True, slots=True)
class GradingContext:
    """What a grader sees of one cell: its output and how it was produced."""

    output: str
    vars: Mapping[str, Any]
    prompt: str
    provider_id: str
    test_description: str
    latency_ms: float | None = None
    cost: float | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    prompt_label: str | None = None  # how reports name the prompt and the provider
    provider_label: str | None = None
    tools: DeclaredTools | None = None  # the tools the provider offered the model

    def as_dict(self) -> dict[str, Any]:
        """The ``context`` mapping handed to python assertions (promptfoo's shape)."""
        return {
            "vars": dict(self.vars),
            "prompt": self.prompt,
            "provider": {"id": self.provider_id},
            "test": {
                "description": self.test_description,
                "vars": dict(self.vars),
                "metadata": dict(self.metadata),
            },
            "latency_ms": self.latency_ms,
            "cost": self.cost,
            "finish_reason": self.finish_reason,
            "token_usage": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "cached": self.cached,
        }

    def as_promptfoo_context(self, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ``context`` promptfoo gives code checks: prompt, vars, test, provider,
        providerResponse, logProbs (never known here) and the assertion's ``config``."""
        context = self.as_dict()
        context["provider"] = {"id": self.provider_id, "label": self.provider_label}
        context["logProbs"] = None
        context["providerResponse"] = {
            "output": self.output,
            "cost": self.cost,
            "cached": self.cached,
            "finishReason": self.finish_reason,
            "tokenUsage": {
                "prompt": self.prompt_tokens,
                "completion": self.completion_tokens,
                "total": (self.prompt_tokens or 0) + (self.completion_tokens or 0),
            },
        }
        if config is not None:
            context["config"] = dict(config)
        return context


SyncGrader: TypeAlias = Callable[[GradingContext], GradeResult]
AsyncGrader: TypeAlias = Callable[[GradingContext], Awaitable[GradeResult]]
Grader: TypeAlias = SyncGrader | AsyncGrader
AssertionFactory: TypeAlias = Callable[[AssertionSpec], Grader]


class AssertionValueError(PrompteurError):
    """An assertion's settings are invalid; ``key`` names the offending key."""

    def __init__(self, message: str, key: str = "value") -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True, slots=True)
class RegisteredAssertion:
    name: str
    factory: AssertionFactory
    description: str


_REGISTRY: dict[str, RegisteredAssertion] = {}
_builtins_loaded = False
_plugins_loaded = False


def assertion(name: str, description: str = "") -> Callable[[AssertionFactory], AssertionFactory]:
    """Register an assertion factory under ``name`` (which then also exists as ``not-name``).

    Graders must be pure functions of their spec and the context: tests with identical
    settings share one grader."""

    def register(factory: AssertionFactory) -> AssertionFactory:
        if name.startswith("not-"):
            raise ValueError(f"assertion names cannot start with 'not-': {name!r}")
        doc = description or (factory.__doc__ or "").strip().split("\n")[0]
        _REGISTRY[name] = RegisteredAssertion(name, factory, doc)
        return factory

    return register


def _ensure_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        from . import (  # noqa: F401 - they register on import
            _builtin_assertions,
            _builtin_code,
            _builtin_js,
            _builtin_json,
            _builtin_sql,
            _builtin_tools,
            _graders_context,
            _graders_conversation,
            _graders_max_score,
            _graders_reference,
            _graders_refusal,
            _graders_select_best,
            _model_graded,
            _similarity,
        )


def _load_plugins() -> None:
    """Load the ``prompteur.assertions`` entry points, once, when a name is not built in
    (reading installed packages' metadata costs more than a small run)."""
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        from importlib.metadata import entry_points

        for entry in entry_points(group="prompteur.assertions"):
            entry.load()  # the module registers its factories with @assertion


def find_assertion(base: str) -> RegisteredAssertion | None:
    """The registered type ``base`` (no ``not-``), or None."""
    _ensure_builtins()
    if base not in _REGISTRY:
        _load_plugins()
    return _REGISTRY.get(base)


def assertion_types() -> Mapping[str, RegisteredAssertion]:
    """Every registered assertion type, by name (without the ``not-`` forms)."""
    _ensure_builtins()
    _load_plugins()
    return dict(_REGISTRY)


class UnknownAssertionType(ValueError):
    """An assertion type that no factory is registered under."""


def check_assertion_type(name: str) -> None:
    """Raise UnknownAssertionType, with a suggestion, when ``name`` is not registered."""
    base, negated = split_negation(name)
    if find_assertion(base) is not None:
        return
    if negated and not base:
        raise UnknownAssertionType(
            "the assertion type after 'not-' is missing (write 'not-contains', for instance)"
        )
    choices = list(_REGISTRY) + [f"not-{n}" for n in _REGISTRY]
    # types are lowercase: 'CONTAINS' is a near miss that difflib's ratio does not see
    hint = did_you_mean(name.lower(), choices) if name != name.lower() else ""
    raise UnknownAssertionType(
        f"unknown assertion type '{name}'{hint or did_you_mean(name, choices)}"
    )


#: Built-in types whose graders read no threshold: one set on them changes nothing (promptfoo
#: ignores it too), which the planner says rather than refusing a promptfoo suite.
IGNORES_THRESHOLD = frozenset(
    {
        "equals",
        "contains",
        "icontains",
        "contains-any",
        "contains-all",
        "icontains-any",
        "icontains-all",
        "starts-with",
        "regex",
        "word-count",
        "finish-reason",
        "is-json",
        "json-schema",
        "contains-json",
        "model-graded-closedqa",
        "is-refusal",
        "select-best",
    }
)


class _RegisteredTypes:
    """The registry as reading a suite sees it (config stands below the registry)."""

    def is_registered(self, base: str) -> bool:
        return find_assertion(base) is not None

    def names(self) -> Iterable[str]:
        return assertion_types().keys()


#: What config's readers are handed to tell assertion types from text.
REGISTERED_TYPES = _RegisteredTypes()


def get_assertion(name: str) -> RegisteredAssertion:
    found = find_assertion(name)
    if found is not None:
        return found
    raise SuiteError(f"unknown assertion type '{name}'{did_you_mean(name, _REGISTRY)}")
