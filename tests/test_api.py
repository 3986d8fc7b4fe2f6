"""The library surface: pinned public names, evaluate and its async twin, sinks, extension."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import prompteur
from prompteur.eval import CellResult, RunFinished, RunStarted

PUBLIC_NAMES = [
    "Store",
    "PromptVersion",
    "PromptSource",
    "PromptRegistry",
    "HumanVerdict",
    "GradingError",
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
    "GroupSummary",
    "Message",
    "MissingDependencyError",
    "PermanentProviderError",
    "Plan",
    "PromptSpec",
    "PromptTemplate",
    "PrompteurError",
    "Provider",
    "ProviderContext",
    "ProviderError",
    "ProviderSpec",
    "ResultSink",
    "RunFinished",
    "RunStarted",
    "RunSummary",
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
    "OptimizeResult",
    "plan_suite",
    "register_provider",
]


def test_public_names_are_pinned() -> None:
    assert sorted(prompteur.__all__) == sorted(PUBLIC_NAMES)
    for name in prompteur.__all__:
        assert getattr(prompteur, name) is not None
    with pytest.raises(AttributeError):
        _ = prompteur.not_a_name  # type: ignore[attr-defined]


SUITE = {
    "prompts": ["Echo {{word}}", {"raw": "Shout {{word|upper}}", "label": "shout"}],
    "providers": ["echo"],
    "tests": [
        {"vars": {"word": w}, "assert": [{"type": "contains", "value": "a"}]}
        for w in ("cat", "dog", "bat")
    ],
}


def _digest(result: prompteur.EvalResult) -> list[tuple[str, str, bool, str | None]]:
    return sorted((c.key, c.prompt_id, c.passed, c.output) for c in result.results)


def test_sync_and_async_evaluate_agree() -> None:
    sync = prompteur.evaluate(SUITE)
    async_ = asyncio.run(prompteur.evaluate_async(SUITE))
    assert _digest(sync) == _digest(async_)
    assert len(sync.results) == 6
    assert sync.summary.passed == async_.summary.passed == 2  # cat, bat on "Echo"; none shouted
    assert not sync.success


def test_evaluate_works_inside_a_running_loop() -> None:
    async def inside() -> prompteur.EvalResult:
        return prompteur.evaluate(SUITE)

    assert len(asyncio.run(inside()).results) == 6


def test_suite_objects_and_paths(tmp_path: Path) -> None:
    suite = prompteur.Suite(
        prompts=[prompteur.PromptSpec(raw="Hello {{x}}")],
        providers=[prompteur.ProviderSpec(id="echo")],
        tests=[
            prompteur.TestCase(
                vars={"x": "you"}, assert_=[prompteur.Assertion(type="equals", value="Hello you")]
            )
        ],
    )
    assert prompteur.evaluate(suite).success
    (tmp_path / "s.yaml").write_text("prompts: [hi]\nproviders: [echo]\n")
    assert prompteur.evaluate(tmp_path / "s.yaml").success
    assert prompteur.evaluate(str(tmp_path / "s.yaml")).success


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.results: list[CellResult] = []

    def on_start(self, event: RunStarted) -> None:
        self.events.append(f"start {event.total_cells}")

    def on_result(self, result: CellResult) -> None:
        self.results.append(result)

    def on_finish(self, event: RunFinished) -> None:
        self.events.append(f"finish {event.summary.done}")


def test_sinks_receive_every_result_without_keeping_them() -> None:
    sink = Recorder()
    result = prompteur.evaluate(SUITE, sinks=[sink], keep_results=False)
    assert sink.events == ["start 6", "finish 6"]
    assert len(sink.results) == 6
    assert result.results == []
    assert result.summary.done == 6


def test_provider_objects_replace_the_suite_providers() -> None:
    calls: list[str] = []

    class Upper(prompteur.BaseProvider):
        async def complete(self, request: prompteur.CompletionRequest) -> prompteur.Completion:
            calls.append(request.text)
            return prompteur.Completion(
                request.text.upper(),
                prompteur.Usage(prompt_tokens=1, completion_tokens=2),
                cost=0.5,
            )

    result = prompteur.evaluate(SUITE, providers=[Upper("upper", label="UP")])
    assert len(calls) == 6
    assert {c.provider_id for c in result.results} == {"UP"}
    group = result.summary.groups[0]
    assert group.cost == pytest.approx(1.5)
    assert group.total_tokens == 9


def test_custom_assertion_types_register_by_decorator() -> None:
    @prompteur.assertion("is-palindrome")
    def is_palindrome(spec: prompteur.AssertionSpec):  # type: ignore[no-untyped-def]
        def grade(ctx: prompteur.GradingContext) -> prompteur.GradeResult:
            text = ctx.output.lower()
            return prompteur.GradeResult(
                text == text[::-1],
                1.0 if text == text[::-1] else 0.0,
                "palindrome" if text == text[::-1] else "not a palindrome",
            )

        return grade

    result = prompteur.evaluate(
        {
            "prompts": ["{{w}}"],
            "providers": ["echo"],
            "tests": [
                {
                    "vars": {"w": w},
                    "assert": [{"type": "is-palindrome"}, {"type": "not-is-palindrome"}],
                }
                for w in ("Level", "levels")
            ],
        }
    )
    verdicts = {c.vars["w"]: [a.passed for a in c.assertions] for c in result.results}
    assert verdicts == {"Level": [True, False], "levels": [False, True]}


def test_async_graders_are_awaited() -> None:
    @prompteur.assertion("slow-length")
    def slow_length(spec: prompteur.AssertionSpec):  # type: ignore[no-untyped-def]
        async def grade(ctx: prompteur.GradingContext) -> prompteur.GradeResult:
            await asyncio.sleep(0)
            ok = len(ctx.output) <= int(spec.value)
            return prompteur.GradeResult(ok, float(ok), f"{len(ctx.output)} characters")

        return grade

    result = prompteur.evaluate(
        {
            "prompts": ["abcdef"],
            "providers": ["echo"],
            "tests": [{"assert": [{"type": "slow-length", "value": 3}]}],
        }
    )
    assert result.results[0].assertions[0].reason == "6 characters"
    assert not result.results[0].passed


def test_register_provider_by_prefix() -> None:
    class Reverse(prompteur.BaseProvider):
        async def complete(self, request: prompteur.CompletionRequest) -> prompteur.Completion:
            return prompteur.Completion(request.text[::-1])

    prompteur.register_provider("reverse", lambda spec, context: Reverse(spec.id, spec.label))
    result = prompteur.evaluate({"prompts": ["abc"], "providers": ["reverse:any"]})
    assert result.results[0].output == "cba"


def test_builtin_providers_match_the_entry_points() -> None:
    from importlib.metadata import entry_points

    from prompteur.providers._registry import BUILTIN, ENTRY_POINT_GROUP

    declared = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert {name: declared.get(name) for name in BUILTIN} == BUILTIN
