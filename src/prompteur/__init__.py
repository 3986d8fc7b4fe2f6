"""prompteur: the prompt engineer's workbench.

The public surface is listed in ``__all__``; names are imported on first use, so that
``import prompteur`` (and the ``prompteur`` command) start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .config import (
        Assertion,
        EvaluateOptions,
        PromptSpec,
        ProviderSpec,
        Suite,
        TestCase,
        load_suite,
    )
    from .core._errors import (
        MissingDependencyError,
        PermanentProviderError,
        PrompteurError,
        ProviderError,
        SuiteError,
        TemplateError,
        TransientProviderError,
    )
    from .eval import (
        AssertionResult,
        AssertionSpec,
        AssertionValueError,
        CellResult,
        EvalOptions,
        EvalResult,
        GradeResult,
        GradingContext,
        GradingError,
        GroupSummary,
        HumanVerdict,
        Plan,
        ResultSink,
        RunFinished,
        RunStarted,
        RunSummary,
        assertion,
        evaluate,
        evaluate_async,
        plan_suite,
    )
    from .optimize import OptimizeResult, optimize, optimize_async
    from .prompts import Message, PromptTemplate
    from .providers import (
        BaseProvider,
        Completion,
        CompletionRequest,
        Provider,
        ProviderContext,
        Usage,
        register_provider,
    )
    from .store import PromptRegistry, PromptSource, PromptVersion, Store

_EXPORTS: dict[str, str] = {
    # running
    "evaluate": "eval",
    "evaluate_async": "eval",
    "plan_suite": "eval",
    "EvalOptions": "eval",
    "EvalResult": "eval",
    "Plan": "eval",
    # optimizing
    "optimize": "optimize",
    "optimize_async": "optimize",
    "OptimizeResult": "optimize",
    # suites
    "load_suite": "config",
    "Suite": "config",
    "TestCase": "config",
    "Assertion": "config",
    "PromptSpec": "config",
    "ProviderSpec": "config",
    "EvaluateOptions": "config",
    # results and sinks
    "CellResult": "eval",
    "AssertionResult": "eval",
    "RunSummary": "eval",
    "GroupSummary": "eval",
    "ResultSink": "eval",
    "RunStarted": "eval",
    "RunFinished": "eval",
    # extending: assertions
    "assertion": "eval",
    "AssertionSpec": "eval",
    "AssertionValueError": "eval",
    "GradeResult": "eval",
    "GradingContext": "eval",
    "GradingError": "eval",
    "HumanVerdict": "eval",
    # extending: providers
    "Provider": "providers",
    "BaseProvider": "providers",
    "ProviderContext": "providers",
    "Completion": "providers",
    "CompletionRequest": "providers",
    "Usage": "providers",
    "register_provider": "providers",
    # prompts
    "PromptTemplate": "prompts",
    "Message": "prompts",
    "PromptRegistry": "store",
    "PromptSource": "store",
    "PromptVersion": "store",
    # the results store
    "Store": "store",
    # errors
    "PrompteurError": "errors",
    "SuiteError": "errors",
    "TemplateError": "errors",
    "ProviderError": "errors",
    "TransientProviderError": "errors",
    "PermanentProviderError": "errors",
    "MissingDependencyError": "errors",
}

__all__ = [
    "Assertion",
    "AssertionResult",
    "AssertionSpec",
    "AssertionValueError",
    "BaseProvider",
    "CellResult",
    "Completion",
    "CompletionRequest",
    "EvalOptions",
    "EvalResult",
    "EvaluateOptions",
    "GradeResult",
    "GradingContext",
    "GradingError",
    "GroupSummary",
    "HumanVerdict",
    "Message",
    "MissingDependencyError",
    "OptimizeResult",
    "PermanentProviderError",
    "Plan",
    "PromptRegistry",
    "PromptSource",
    "PromptSpec",
    "PromptTemplate",
    "PromptVersion",
    "PrompteurError",
    "Provider",
    "ProviderContext",
    "ProviderError",
    "ProviderSpec",
    "ResultSink",
    "RunFinished",
    "RunStarted",
    "RunSummary",
    "Store",
    "Suite",
    "SuiteError",
    "TemplateError",
    "TestCase",
    "TransientProviderError",
    "Usage",
    "__version__",
    "assertion",
    "evaluate",
    "evaluate_async",
    "load_suite",
    "optimize",
    "optimize_async",
    "plan_suite",
    "register_provider",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'prompteur' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
