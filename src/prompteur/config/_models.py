"""The suite file schema, in promptfoo's vocabulary.

These pydantic models are both what a suite file is validated against and the objects a
Python caller builds a suite from. Loose shapes that promptfoo accepts (a single string for
``prompts``, ``path: label`` maps, provider ids as strings) are normalised before validation,
so that errors point at the key the user wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..core._summary import check_metric_expression
from ._source import Origin, SourceFile

__all__ = [
    "MAX_REPEAT",
    "Assertion",
    "EvaluateOptions",
    "PromptSpec",
    "ProviderSpec",
    "Scenario",
    "Suite",
    "TestCase",
    "TestOptions",
    "TestSource",
]


#: The most times a case may run (``repeat``): more is a mistake that would run for ever.
MAX_REPEAT = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class Assertion(_Strict):
    """One check of an output: ``type`` (any registered type, or ``not-`` and a type)."""

    type: str
    value: Any = None
    weight: float = Field(1.0, ge=0)
    threshold: float | None = None
    metric: str | None = None
    provider: Any = Field(
        None, description="the grader of a model-graded assertion (an id or {id, config})"
    )
    config: dict[str, Any] | None = Field(
        None, description="settings handed to a code check as context.config (promptfoo's)"
    )
    transform: str | None = Field(
        None,
        description="code that reshapes the output for this assertion only: inline "
        "JavaScript over output and context, file://x.js[:fn] or file://x.py[:fn]",
    )
    context_transform: str | None = Field(
        None,
        alias="contextTransform",
        description="code that extracts the context of context-based assertions from the "
        "output (JavaScript or file://x.py[:fn])",
    )
    rubric_prompt: str | list[dict[str, Any]] | None = Field(
        None,
        alias="rubricPrompt",
        description="the judge's prompt of this model-graded assertion, over the test's "
        "options.rubricPrompt",
    )

    # Whether ``type`` is registered is checked when the suite is planned (with the
    # assertion's position), not here: a Python validator per assertion slows large suites.


class TestOptions(_Strict):
    """Per-test options. ``provider`` names the grader of model-graded assertions."""

    provider: Any = Field(
        None, description="the grader of model-graded assertions: an id or {id, config}"
    )
    factuality: dict[str, float] | None = Field(
        None,
        description="scores of the factuality categories: subset, superset, agree, "
        "disagree, differButFactual",
    )
    rubric_prompt: str | list[dict[str, Any]] | None = Field(
        None,
        alias="rubricPrompt",
        description="the judge's prompt for model-graded assertions, replacing the built-in "
        "one: text or chat messages, with {{output}}, {{rubric}} and the test's vars",
    )
    prefix: str | None = Field(
        None,
        description="text put before the prompt for this test (a template too); in a chat, "
        "at the start of its first user message",
    )
    suffix: str | None = Field(
        None,
        description="text put after the prompt for this test (a template too); in a chat, "
        "at the end of its last user message",
    )
    transform: str | None = Field(
        None,
        description="code that reshapes each output before it is graded and stored: inline "
        "JavaScript over output and context, file://x.js[:fn] or file://x.py[:fn]",
    )
    postprocess: str | None = Field(None, description="the old name of 'transform'")
    transform_vars: str | None = Field(
        None,
        alias="transformVars",
        description="code that returns vars to add to or replace the test's before it runs: "
        "inline JavaScript over vars and context, file://x.js[:fn] or file://x.py[:fn]",
    )
    store_output_as: str | None = Field(
        None,
        alias="storeOutputAs",
        min_length=1,
        description="a variable that receives this test's output (after options.transform), "
        "for the tests after it; the cells of a suite that stores outputs run one at a time, "
        "test by test, as in promptfoo",
    )
    disable_conversation_var: bool | None = Field(
        None,
        alias="disableConversationVar",
        description="leave out the _conversation variable (the earlier turns) for this test",
    )
    disable_var_expansion: bool | None = Field(
        None,
        alias="disableVarExpansion",
        description="keep array-valued vars as lists instead of expanding them into a "
        "cross product of cases",
    )


def _case_or_file(value: Any) -> str:
    if isinstance(value, str):
        return "file"
    if isinstance(value, TestSource) or (isinstance(value, dict) and "path" in value):
        return "source"
    return "case"


class TestSource(_Strict):
    """Tests from a file or a generator, with settings: ``{path: file://gen.py:fn,
    config: {...}}`` (the generator is called with ``config``)."""

    __test__ = False  # not a pytest test class

    path: str
    config: dict[str, Any] | None = None


class TestCase(_Strict):
    """A test case: variables for the prompt and the assertions its outputs must satisfy."""

    __test__ = False  # not a pytest test class

    description: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    assert_: list[Assertion] = Field(default_factory=list, alias="assert")
    threshold: float | None = None
    repeat: int | None = Field(None, ge=1, le=MAX_REPEAT)
    options: TestOptions | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    assert_scoring_function: str | None = Field(
        None,
        alias="assertScoringFunction",
        description="file://x.py:fn or file://x.js[:fn]: decides the test's pass and score "
        "from its named metrics' scores, in place of the assertions' weighted mean",
    )
    provider: Any = Field(
        None,
        description="the model this test runs on, in place of the suite's providers: an id "
        "or {id, config, label} (the grader of model-graded assertions is options.provider)",
    )
    provider_output: str | dict[str, Any] | list[Any] | None = Field(
        None,
        alias="providerOutput",
        description="the output to grade, given: no provider is called for this test (an "
        "object or list is graded as its JSON)",
    )

    @field_validator("vars", mode="before")
    @classmethod
    def _no_null_vars(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("assert_", mode="before")
    @classmethod
    def _no_null_asserts(cls, value: Any) -> Any:
        return [] if value is None else value


TestOrFile = Annotated[
    Annotated[TestCase, Tag("case")]
    | Annotated[str, Tag("file")]
    | Annotated[TestSource, Tag("source")],
    Discriminator(_case_or_file),
]


class Scenario(_Strict):
    """promptfoo's scenario: each of its ``config`` items (vars, assertions...) combined
    with each of its ``tests``, so the same tests run under several settings."""

    description: str | None = None
    config: list[TestCase]
    tests: list[TestCase] = Field(default_factory=list)

    @field_validator("tests", mode="before")
    @classmethod
    def _no_null_tests(cls, value: Any) -> Any:
        return [] if value is None else value


class PromptSpec(_Strict):
    """A prompt: inline text (``raw``), a file (``id: file://...``), or a registered prompt
    (``prompt: name@production``, ``name@v3``, ``name`` for the latest), with a label."""

    id: str | None = None
    raw: str | None = None
    prompt: str | None = Field(None, description="a registered prompt: name, name@vN or name@label")
    label: str | None = None
    config: dict[str, Any] | None = Field(
        None,
        description="provider settings for this prompt's calls, over the provider's own "
        "config (promptfoo's prompt config: response_format, temperature...)",
    )

    @model_validator(mode="after")
    def _one_source(self) -> PromptSpec:
        if self.raw is not None and self.id is not None and self.prompt is None:
            # promptfoo's {id, raw}: the text is raw's, id names the prompt
            self.label = self.label or self.id
            self.id = None
        if sum(v is not None for v in (self.id, self.raw, self.prompt)) != 1:
            raise ValueError(
                "a prompt needs exactly one of 'id' (a file:// path), 'raw' or 'prompt' "
                "(a registered prompt)"
            )
        return self


class ProviderSpec(_Strict):
    """A model to run the prompts on: a registered id and its options."""

    id: str
    label: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    prompts: list[str] | None = Field(
        None, description="the labels (or ids) of the prompts this provider runs; all if unset"
    )
    delay: float | None = Field(
        None, ge=0, description="milliseconds to wait after each call of this provider"
    )

    @field_validator("config", mode="before")
    @classmethod
    def _no_null_config(cls, value: Any) -> Any:
        return {} if value is None else value


class EvaluateOptions(_Strict):
    """promptfoo's ``evaluateOptions``; command-line flags override them."""

    max_concurrency: int | None = Field(None, ge=1, alias="maxConcurrency")
    repeat: int | None = Field(None, ge=1, le=MAX_REPEAT)
    delay: float | None = Field(None, ge=0, description="milliseconds to wait after each call")
    timeout_ms: float | None = Field(None, gt=0, alias="timeoutMs")
    cache: bool | None = None
    show_progress_bar: bool | None = Field(None, alias="showProgressBar")


class DerivedMetricSpec(_Strict):
    """promptfoo's derived metric: ``value`` is an arithmetic expression over the named
    metrics (``metric:`` of assertions) summed over one prompt's cases, and over the
    derived metrics listed before it."""

    name: str = Field(min_length=1)
    value: str

    @field_validator("value")
    @classmethod
    def _arithmetic(cls, value: str) -> str:
        problem = check_metric_expression(value)
        if problem is not None:
            raise ValueError(f"the expression {value!r} {problem}")
        return value


class Suite(_Strict):
    """A suite: prompts × providers × tests. ``tests`` items may be ``file://`` references."""

    description: str | None = None
    prompts: list[PromptSpec]
    providers: list[ProviderSpec] = Field(default_factory=list)
    tests: list[TestOrFile] = Field(default_factory=list)
    default_test: TestOrFile | None = Field(None, alias="defaultTest")
    scenarios: list[Scenario] = Field(
        default_factory=list, description="tests run under each of several settings"
    )
    evaluate_options: EvaluateOptions = Field(
        default_factory=EvaluateOptions, alias="evaluateOptions"
    )
    output_path: list[str] = Field(default_factory=list, alias="outputPath")
    env: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    sharing: Any = Field(None, description="accepted for promptfoo compatibility; ignored")
    derived_metrics: list[DerivedMetricSpec] = Field(
        default_factory=list,
        alias="derivedMetrics",
        description="metrics computed per prompt from the named metrics' totals",
    )
    redteam: dict[str, Any] | None = Field(
        None, description="promptfoo's red-team section: read by 'prompteur redteam' only"
    )
    extensions: list[str] = Field(
        default_factory=list,
        description="hooks called as fn(hook_name, context) at beforeAll, beforeEach, "
        "afterEach and afterAll: file://hooks.py:fn (Python only)",
    )

    _base_dir: Path | None = PrivateAttr(None)
    _source: SourceFile | None = PrivateAttr(None)

    @property
    def base_dir(self) -> Path:
        """The folder ``file://`` paths are relative to: the suite file's, or the working one."""
        return self._base_dir or Path.cwd()

    @property
    def renders_undefined_empty(self) -> bool:
        """Whether an undefined template variable renders as empty text (promptfoo's way),
        as in a promptfoo config (a suite file named ``promptfooconfig*``), rather than
        being an error (prompteur's own suites)."""
        source = self._source
        return source is not None and Path(source.name).name.startswith("promptfooconfig")

    @property
    def origin(self) -> Origin | None:
        """The suite file, when the suite was read from one (for error positions)."""
        return Origin(self._source, ()) if self._source is not None else None

    @model_validator(mode="before")
    @classmethod
    def _targets_are_providers(cls, value: Any) -> Any:
        # promptfoo takes `targets:` for `providers:` (red-team configs use it)
        if isinstance(value, dict) and "targets" in value:
            if "providers" in value:
                raise ValueError("give 'providers' or 'targets' (the same key), not both")
            value = {("providers" if k == "targets" else k): v for k, v in value.items()}
        # a red-team config without prompts attacks its targets with the bare input
        if isinstance(value, dict) and "redteam" in value and "prompts" not in value:
            value = {**value, "prompts": ["{{prompt}}"]}
        return value

    @field_validator("prompts", mode="before")
    @classmethod
    def _normalise_prompts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, dict):  # {path: label}
            return [{"id": path, "label": label} for path, label in value.items()]
        if isinstance(value, list):
            return [_prompt_item(item) for item in value]
        return value

    @field_validator("providers", mode="before")
    @classmethod
    def _normalise_providers(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return [_provider_item(item) for item in value]
        return value

    @field_validator("tests", mode="before")
    @classmethod
    def _normalise_tests(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, dict) and "path" in value:  # {path, config}: one source
            return [value]
        return [value] if isinstance(value, str) else value

    @field_validator("extensions", mode="before")
    @classmethod
    def _no_null_extensions(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("extensions")
    @classmethod
    def _hooks_not_in_red_team(cls, value: list[str], info: ValidationInfo) -> list[str]:
        # 'prompteur redteam' builds suites of its own, which would drop the hooks
        if value and info.data.get("redteam") is not None:
            raise ValueError(
                "extension hooks are not run by 'prompteur redteam' (this config has a "
                "'redteam:' section): remove them to run it"
            )
        return value

    @field_validator("output_path", mode="before")
    @classmethod
    def _normalise_output_path(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("env", mode="before")
    @classmethod
    def _stringify_env(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v if isinstance(v, str) else str(v) for k, v in value.items()}
        return value


REGISTRY_SCHEME = "prompt://"


def _prompt_item(item: Any) -> Any:
    if isinstance(item, str):
        if item.startswith(REGISTRY_SCHEME):
            return {"prompt": item[len(REGISTRY_SCHEME) :]}
        return {"id": item} if item.startswith("file://") else {"raw": item}
    return item


def _provider_item(item: Any) -> Any:
    if isinstance(item, str):
        return {"id": item}
    # promptfoo's map form: `- openai:chat:gpt-4o: {config: ...}`
    if isinstance(item, dict) and len(item) == 1 and "id" not in item:
        ((key, options),) = item.items()
        if isinstance(options, dict):
            return {"id": key, **options}
    return item
