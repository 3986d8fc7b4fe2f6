"""Planning: a validated suite becomes prompts, providers and compiled tests, and the cells
(prompt × provider × test × repeat) to run. Every error the suite can hold is found here,
before any model is called."""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..assertions._grading import CompiledAssertion
from ..assertions._judge import JudgePool
from ..assertions._registry import REGISTERED_TYPES
from ..config._models import MAX_REPEAT, ProviderSpec, Suite, TestCase
from ..config._source import Origin
from ..config._tests import ResolvedTest, resolve_tests
from ..core._cached import cached_property
from ..core._errors import Location, SuiteError
from ..core._json import stable_hash
from ..core._storable import without_surrogates
from ..core._transforms import Transform, load_transform
from ..core._trust import check_suite_env
from ..prompts._template import Message, PromptTemplate
from ..providers._base import Provider, ProviderContext, provider_identity
from ..providers._registry import DEFAULT_PROVIDER, create_provider
from ._extensions import ExtensionHooks, load_extension_hooks
from ._filters import CaseFilter
from ._plan_compile import AssertionCompiler
from ._plan_prompts import AffixedPrompts, check_renders, load_prompts_with_configs
from ._plan_providers import TestProviders, check_media, chosen_prompts
from ._undefined_vars import assertion_variables, prompt_variables, with_undefined_as_empty

if TYPE_CHECKING:
    from ..store._registry import PromptRegistry

__all__ = ["MAX_CELLS", "Cell", "Plan", "PlannedTest", "build_plan"]

#: The most cells a plan may hold: beyond, a run is a mistake (a repeat of 10**12) that would
#: never end and whose store would fill the disk.
MAX_CELLS = 10_000_000


@dataclass(frozen=True, slots=True)
class Cell:
    """One unit of work: a prompt on a provider for a test, the n-th repeat."""

    prompt: int
    provider: int
    test: int
    repeat: int

    @property
    def key(self) -> str:
        return f"{self.prompt}:{self.provider}:{self.test}:{self.repeat}"


@dataclass(frozen=True)
class PlannedTest:
    index: int
    description: str | None
    vars: Mapping[str, Any]
    assertions: tuple[CompiledAssertion, ...]
    threshold: float | None
    repeat: int
    metadata: Mapping[str, Any]
    origin: Origin | None = None
    #: How many earlier tests of the suite have the same description and variables (cases
    #: that ask the same thing with other checks, or duplicated CSV rows).
    occurrence: int = 0
    #: Text put before and after every prompt for this test (options.prefix, .suffix).
    prefix: str = ""
    suffix: str = ""
    #: options.transform: reshapes each output before it is graded and stored.
    output_transform: Transform | None = field(default=None, compare=False)
    #: the test's own provider (``provider``), by its place in ``Plan.test_providers``
    provider: int | None = None
    #: assertScoringFunction: (named scores, context) -> {pass, score, reason}
    scoring: Transform | None = field(default=None, compare=False)
    #: options.storeOutputAs: the variable that receives this test's output
    store_output_as: str | None = None
    #: options.disableConversationVar: no _conversation variable for this test
    no_conversation: bool = False
    #: providerOutput: the output graded for this test, no provider called
    provider_output: str | None = None
    #: the test as resolved, when its assertion values use stored outputs (storeOutputAs):
    #: they are compiled again for each cell, with the outputs stored so far
    stored_in_assertions: ResolvedTest | None = field(default=None, compare=False, repr=False)

    @cached_property
    def key(self) -> str:
        """Identifies the case across runs and suite edits: its description and variables
        (and, for the n-th repetition of those in one suite, n)."""
        identity: dict[str, Any] = {"description": self.description, "vars": self.vars}
        if self.occurrence:
            identity["occurrence"] = self.occurrence
        if self.prefix or self.suffix:  # another prompt is sent: another case
            identity["affixes"] = [self.prefix, self.suffix]
        return stable_hash(identity)[:32]

    @cached_property
    def stored_vars(self) -> Mapping[str, Any]:
        """The vars as results keep them: a media file's data: URL (megabytes of base64,
        once per cell) as a short mark, ``[image/png, 12,345 bytes]``."""
        return kept_vars(self.vars)

    @cached_property
    def has_group_assertions(self) -> bool:
        """Whether some assertion grades the case's outputs together (select-best)."""
        return any(a.is_group for a in self.assertions)

    @cached_property
    def graded_alone(self) -> tuple[CompiledAssertion, ...]:
        """The assertions that grade each output on its own (all but select-best)."""
        return tuple(a for a in self.assertions if not a.is_group)

    @cached_property
    def counts_judge_calls(self) -> bool:
        """Whether grading may call a judge, whose usage is then counted: only async
        graders and cases graded as a whole can."""
        return self.has_group_assertions or any(a.is_async for a in self.assertions)

    @property
    def location(self) -> Location | None:
        """Where the test is written (computed on demand: only errors need it)."""
        return self.origin.location() if self.origin is not None else None

    @cached_property
    def label(self) -> str:
        """How reports name the test: its description, else its variables."""
        if self.description:
            return self.description
        if not self.vars:
            return f"test {self.index + 1}"
        shown = ", ".join(f"{k}={_short(v)}" for k, v in self.vars.items())
        return shown if len(shown) <= 80 else shown[:79] + "…"


def kept_vars(variables: Mapping[str, Any]) -> Mapping[str, Any]:
    """``variables`` as results keep them (see :attr:`PlannedTest.stored_vars`)."""
    if not any(isinstance(v, str) and v.startswith("data:") for v in variables.values()):
        return variables
    return {k: _media_mark(v) for k, v in variables.items()}


def _media_mark(value: Any) -> Any:
    if not isinstance(value, str) or not value.startswith("data:") or "," not in value:
        return value
    header, _, data = value.partition(",")
    if not header.endswith(";base64"):
        return value
    return f"[{header[5:].removesuffix(';base64')}, {len(data) * 3 // 4:,} bytes]"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(str(text).split())
    return text if len(text) <= 40 else text[:39] + "…"


@dataclass
class Plan:
    """Everything a run needs, validated."""

    description: str | None
    prompts: list[PromptTemplate] = field(repr=False)
    providers: list[Provider] = field(repr=False)
    provider_labels: list[str]
    tests: list[PlannedTest] = field(repr=False)
    default_repeat: int = 1
    suite: Suite | None = field(default=None, repr=False)
    rendered: dict[tuple[int, int], tuple[Message, ...]] = field(default_factory=dict, repr=False)
    judges: JudgePool | None = field(default=None, repr=False)
    _fingerprint: str | None = field(default=None, repr=False)
    affixed: AffixedPrompts | None = field(default=None, repr=False)
    #: the providers tests name for themselves (a test's ``provider``)
    test_providers: list[Provider] = field(default_factory=list, repr=False)
    #: for each provider, the prompts it runs (its ``prompts``), or None for all of them
    provider_prompts: list[tuple[int, ...] | None] = field(default_factory=list, repr=False)
    #: for each provider, the seconds to wait after each of its calls (its ``delay``)
    provider_delays: list[float | None] = field(default_factory=list, repr=False)
    #: the providers that answer a prompt with a ``config`` (prompt, provider) -> provider:
    #: the provider made again with the prompt's settings over its own
    prompt_providers: dict[tuple[int, int], Provider] = field(default_factory=dict, repr=False)
    #: which of the suite's cases it took (kept with the run, for resuming it)
    tests_filter: CaseFilter | None = field(default=None, repr=False)
    #: the suite's extension hooks (``extensions``), called as the run goes
    hooks: ExtensionHooks | None = field(default=None, repr=False)
    #: compiles the assertions of tests whose values use stored outputs, as cells run
    compiler: AssertionCompiler | None = field(default=None, repr=False)

    def provider_of(self, cell: Cell) -> Provider:
        """The provider that answers a cell: its test's own, else the cell's."""
        own = self.tests[cell.test].provider
        if own is not None:
            return self.test_providers[own]
        if self.prompt_providers:
            found = self.prompt_providers.get((cell.prompt, cell.provider))
            if found is not None:
                return found
        return self.providers[cell.provider]

    def prompts_of(self, provider: int) -> range | tuple[int, ...]:
        """The prompts a provider runs."""
        chosen = self.provider_prompts[provider] if provider < len(self.provider_prompts) else None
        return range(len(self.prompts)) if chosen is None else chosen

    def all_providers(self) -> list[Provider]:
        """The run's providers, the tests' own and those made for prompts' configs, each
        once."""
        return [*self.providers, *self.test_providers, *self.prompt_providers.values()]

    def messages(self, prompt: int, test: int) -> tuple[Message, ...]:
        """The rendered prompt of a cell (rendered at planning when it fitted in memory)."""
        found = self.rendered.get((prompt, test))
        if found is None:
            if self.affixed is None:
                self.affixed = AffixedPrompts(self.prompts)
            planned = self.tests[test]
            found = self.affixed.template(prompt, planned).render(planned.vars)
        return found

    def pins(self) -> dict[str, str]:
        """The registered prompts' references as the suite writes them, and the versions
        they were resolved to (what a resumed run must use again)."""
        if self.suite is None:
            return {}
        found = {}
        registered = iter(p for p in self.prompts if p.registry is not None)
        for spec in self.suite.prompts:
            if spec.prompt is not None:
                name, version = next(registered).registry or ("", 0)
                found[spec.prompt] = f"{name}@v{version}"
        return found

    def repeats(self, test: PlannedTest) -> int:
        return test.repeat or self.default_repeat

    def cells_for(self, provider: int) -> Iterator[Cell]:
        """The cells of one provider: for each test, each prompt, each repeat."""
        prompts = self.prompts_of(provider)
        for test in self.tests:
            for prompt in prompts:
                for repeat in range(self.repeats(test)):
                    yield Cell(prompt, provider, test.index, repeat)

    def cells(self) -> Iterator[Cell]:
        for provider in range(len(self.providers)):
            yield from self.cells_for(provider)

    @property
    def stores_outputs(self) -> bool:
        """Whether a test stores its output for later tests (``storeOutputAs``), or a
        prompt takes the earlier turns (``_conversation``): then the cells run one at a
        time, in :meth:`serial_cells`' order."""
        return bool(self.conversation_prompts) or any(t.store_output_as for t in self.tests)

    @property
    def conversation_prompts(self) -> frozenset[int]:
        """The prompts that take promptfoo's ``_conversation`` variable: the earlier turns
        (prompt, input, output) of the same provider, prompt and ``conversationId``."""
        return frozenset(
            i for i, p in enumerate(self.prompts) if "_conversation" in prompt_variables(p)
        )

    def serial_cells(self) -> Iterator[Cell]:
        """Every cell, in promptfoo's order: test by test, each repeat, provider, prompt."""
        for test in self.tests:
            for repeat in range(self.repeats(test)):
                for provider in range(len(self.providers)):
                    for prompt in self.prompts_of(provider):
                        yield Cell(prompt, provider, test.index, repeat)

    def messages_with(
        self, prompt: int, test: int, variables: Mapping[str, Any]
    ) -> tuple[Message, ...]:
        """The prompt of a cell rendered with other variables (stored outputs laid over
        the test's)."""
        if self.affixed is None:
            self.affixed = AffixedPrompts(self.prompts)
        return self.affixed.template(prompt, self.tests[test]).render(variables)

    def fingerprint(self) -> str:
        """A hash of everything that decides the cells and their grades: prompts, provider
        identities, cases, assertions, repeats. A run resumes only under the same one."""
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def _compute_fingerprint(self) -> str:
        digest = hashlib.sha256()
        for prompt in self.prompts:
            digest.update(stable_hash([prompt.id, prompt.raw, dict(prompt.params)]).encode())
        for index, (provider, label) in enumerate(
            zip(self.providers, self.provider_labels, strict=True)
        ):
            chosen = self.provider_prompts[index] if index < len(self.provider_prompts) else None
            mark: list[Any] = [label, provider_identity(provider)]
            if chosen is not None:
                mark.append(list(chosen))
            digest.update(stable_hash(mark).encode())
        for own in self.test_providers:
            digest.update(stable_hash(["test", provider_identity(own)]).encode())
        for (at, index), variant in sorted(self.prompt_providers.items(), key=lambda i: i[0]):
            mark = ["prompt config", at, index, provider_identity(variant)]
            digest.update(stable_hash(mark).encode())
        # a line a test, hashed at once (the digest of the whole text is that of its parts);
        # each compiled assertion is hashed once, however many tests share it
        assertion_keys: dict[int, str] = {}
        lines = []
        default = self.default_repeat
        for test in self.tests:
            keys = []
            for compiled in test.assertions:
                found = assertion_keys.get(id(compiled))
                if found is None:
                    found = assertion_keys[id(compiled)] = stable_hash(
                        [
                            compiled.type,
                            compiled.value,
                            compiled.weight,
                            compiled.metric,
                            compiled.threshold,
                        ]
                    )
                keys.append(found)
            by = "" if test.provider is None else f"|p{test.provider}"
            if test.store_output_as:  # later cells' prompts depend on it
                by += f"|s{test.store_output_as}"
            if test.provider_output is not None:
                by += f"|o{stable_hash(test.provider_output)}"
            lines.append(
                f"{test.key}|{test.threshold}|{test.repeat or default}|{','.join(keys)}{by}\n"
            )
        digest.update("".join(lines).encode())
        return digest.hexdigest()

    def cells_per_provider(self) -> int:
        """The cells of a provider that runs every prompt."""
        default = self.default_repeat  # as ``repeats``, inlined: a pass over every test
        return sum(t.repeat or default for t in self.tests) * len(self.prompts)

    def skipped_pairs(self) -> set[tuple[int, int]]:
        """The (prompt, provider) pairs that have no cells: prompts a provider does not run."""
        return {
            (prompt, provider)
            for provider in range(len(self.providers))
            for prompt in range(len(self.prompts))
            if prompt not in self.prompts_of(provider)
        }

    @property
    def total_cells(self) -> int:
        per_prompt = self.cells_per_provider() // max(1, len(self.prompts))
        pairs = len(self.prompts) * len(self.providers) - len(self.skipped_pairs())
        return per_prompt * pairs


def _compile_test(
    test: ResolvedTest, compiler: AssertionCompiler, own: TestProviders, stored: set[str]
) -> PlannedTest:
    uses_stored = assertion_variables(test) & stored if stored else set()
    # checked now with each stored output as its name; compiled again as cells run
    checked = replace(test, vars={**test.vars, **{n: n for n in uses_stored}})
    compiled = compiler.compile(checked if uses_stored else test)
    # a data file's lone surrogates (JSON can hold them) are no text anything can write out
    return PlannedTest(
        test.index,
        without_surrogates(test.description),
        without_surrogates(test.vars),
        tuple(compiled),
        test.threshold,
        test.repeat or 0,
        without_surrogates(test.metadata),
        test.origin,
        prefix=test.options.get("prefix") or "",
        suffix=test.options.get("suffix") or "",
        output_transform=_output_transform(test, compiler),
        provider=own.index(test),
        scoring=_scoring_function(test),
        store_output_as=test.options.get("store_output_as"),
        no_conversation=bool(test.options.get("disable_conversation_var")),
        provider_output=_given_output(test.provider_output),
        stored_in_assertions=test if uses_stored else None,
    )


def _given_output(given: Any) -> str | None:
    """A test's ``providerOutput`` as the output text (an object or a list as its JSON)."""
    if given is None or isinstance(given, str):
        return given
    return json.dumps(given, ensure_ascii=False)


def _scoring_function(test: ResolvedTest) -> Transform | None:
    if test.scoring is None:
        return None
    code, folder = test.scoring
    try:
        return load_transform(code, "output", folder, "assertScoringFunction")
    except SuiteError as exc:
        if exc.location is not None:
            raise
        where = test.origin.location("assertScoringFunction") if test.origin else None
        raise SuiteError(exc.message, where) from None


def _output_transform(test: ResolvedTest, compiler: AssertionCompiler) -> Transform | None:
    code = test.options.get("transform") or test.options.get("postprocess")
    if not code:
        return None
    try:
        return compiler.transform(code, "output", test, "options.transform")
    except SuiteError as exc:
        if exc.location is not None:
            raise
        where = test.origin.location("options", "transform") if test.origin else None
        raise SuiteError(exc.message, where) from None


def _distinct_keys(tests: list[PlannedTest]) -> list[PlannedTest]:
    """Number the tests that repeat an earlier one's description and variables, so that
    every case has its own key (comparisons pair cases by key)."""
    seen: dict[str, int] = {}
    for position, test in enumerate(tests):
        count = seen.get(test.key, 0)
        seen[test.key] = count + 1
        if count:
            tests[position] = replace(test, occurrence=count)
    return tests


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a plan is built: planning makes hundreds of
    thousands of long-lived, acyclic objects, and the collector would scan them over and
    over (a third of the planning time of a 10,000-case suite)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build_plan(
    suite: Suite,
    *,
    providers: Sequence[str | ProviderSpec | Provider] | None = None,
    repeat: int | None = None,
    env: Mapping[str, str] | None = None,
    registry: PromptRegistry | None = None,
    pins: Mapping[str, str] | None = None,
    grader: Any = None,
    tests_filter: CaseFilter | None = None,
) -> Plan:
    """Validate everything and prepare the run. ``providers`` replaces the suite's; entries
    may be ready Provider objects."""
    if suite.redteam is not None:
        where = suite.origin.location("redteam", at_key=True) if suite.origin else None
        raise SuiteError(
            "this is a red-team config (its 'redteam:' section): run it with 'prompteur redteam'",
            where,
        )
    if repeat is not None and not 1 <= repeat <= MAX_REPEAT:
        raise SuiteError(f"repeat is {repeat:,}; a case runs at most {MAX_REPEAT:,} times")
    if grader is not None:
        suite = _graded_by_default(suite)
    hooks = load_extension_hooks(suite)
    if hooks is not None:
        suite = hooks.before_all(suite)
    with_configs = load_prompts_with_configs(suite, registry, pins)
    prompts = [prompt for prompt, _ in with_configs]
    resolved = resolve_tests(suite, suite.base_dir, suite.origin, REGISTERED_TYPES)
    stored: set[str] = set()  # the storeOutputAs names of the tests resolved so far
    resolved = _noting_stored(resolved, stored)
    if suite.renders_undefined_empty:
        resolved = with_undefined_as_empty(prompts, resolved, stored)
    if hooks is not None:
        resolved = iter(hooks.before_each(resolved))
    default_repeat = repeat or suite.evaluate_options.repeat or 1
    if suite.env:
        check_suite_env(suite.origin.location("env", at_key=True) if suite.origin else None)
    base_env = dict(env) if env is not None else {**os.environ, **suite.env}
    judges = JudgePool(suite.base_dir, base_env, grader)
    compiler = AssertionCompiler(judges)
    own = TestProviders(suite.base_dir, base_env)
    tests = _distinct_keys([_compile_test(t, compiler, own, stored) for t in resolved])
    if not tests:
        where = suite.origin.location("tests") if suite.origin else None
        raise SuiteError("the suite's tests files hold no test cases", where)
    if tests_filter is not None and tests_filter.active:
        # after _distinct_keys: a case keeps its key whichever others run with it
        kept = tests_filter.apply(tests)
        tests = [replace(t, index=position) for position, t in enumerate(kept)]
    affixed = AffixedPrompts(prompts)
    rendered = check_renders(affixed, tests)

    origin = suite.origin
    entries: list[ProviderSpec | Provider]
    if providers:
        entries = [ProviderSpec(id=p) if isinstance(p, str) else p for p in providers]
    else:
        entries = list(suite.providers) or [ProviderSpec(id=DEFAULT_PROVIDER)]
    from_suite = not providers and bool(suite.providers)
    instances: list[Provider] = []
    labels: list[str] = []
    for position, entry in enumerate(entries):
        if isinstance(entry, ProviderSpec):
            where = origin.location("providers", position) if origin and from_suite else None
            instances.append(
                create_provider(entry, ProviderContext(suite.base_dir, base_env, where))
            )
            labels.append(entry.label or entry.id)
        else:
            instances.append(entry)
            labels.append(getattr(entry, "label", None) or entry.id)
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise SuiteError(
                f"two providers share the label '{label}'; give them distinct labels",
                origin.location("providers") if origin else None,
            )
        seen.add(label)
    plan = Plan(suite.description, prompts, instances, labels, tests, default_repeat, suite)
    plan.test_providers = own.providers
    plan.tests_filter = tests_filter if tests_filter is not None and tests_filter.active else None
    plan.provider_prompts = [
        chosen_prompts(entry, prompts, origin.location("providers", position) if origin else None)
        for position, entry in enumerate(entries)
    ]
    plan.provider_delays = [
        entry.delay / 1000 if isinstance(entry, ProviderSpec) and entry.delay is not None else None
        for entry in entries
    ]
    plan.prompt_providers = _prompt_providers(plan, entries, with_configs, suite, base_env)
    check_media(plan)
    if plan.total_cells > MAX_CELLS:
        raise SuiteError(
            f"the plan holds {plan.total_cells:,} cells (prompts × providers × cases × "
            f"repeats); a run holds at most {MAX_CELLS:,}: split the suite or lower repeat"
        )
    plan.rendered = rendered
    plan.affixed = affixed
    plan.judges = judges
    plan.hooks = hooks
    if any(t.stored_in_assertions is not None for t in plan.tests):
        plan.compiler = compiler
    return plan


def _noting_stored(tests: Iterator[ResolvedTest], stored: set[str]) -> Iterator[ResolvedTest]:
    """``tests``, adding to ``stored`` the name each stores its output as as it passes."""
    for test in tests:
        name = test.options.get("store_output_as")
        if name:
            stored.add(name)
        yield test


def _graded_by_default(suite: Suite) -> Suite:
    """The suite without its defaultTest's grader (``options.provider``): a grader given
    to the run takes its place, as promptfoo's ``--grader`` does; graders that tests and
    assertions name for themselves stay theirs."""
    default = suite.default_test
    if not isinstance(default, TestCase) or default.options is None:
        return suite
    if default.options.provider is None:
        return suite
    options = default.options.model_copy(update={"provider": None})
    return suite.model_copy(
        update={"default_test": default.model_copy(update={"options": options})}
    )


def build_plan(
    suite: Suite,
    *,
    providers: Sequence[str | ProviderSpec | Provider] | None = None,
    repeat: int | None = None,
    env: Mapping[str, str] | None = None,
    registry: PromptRegistry | None = None,
    pins: Mapping[str, str] | None = None,
    grader: Any = None,
    tests_filter: CaseFilter | None = None,
) -> Plan:
    """Validate everything and prepare the run. ``providers`` replaces the suite's; entries
    may be ready Provider objects. Registered prompts are read from ``registry`` (by
    default, the project's store), references found in ``pins`` as pinned there.
    ``grader`` is the default judge of model-graded assertions that name none (an id, a
    spec, or a Provider; by default the embedded model)."""
    with _collector_paused():
        return _build_plan(
            suite,
            providers=providers,
            repeat=repeat,
            env=env,
            registry=registry,
            pins=pins,
            grader=grader,
            tests_filter=tests_filter,
        )


def _prompt_providers(
    plan: Plan,
    entries: Sequence[ProviderSpec | Provider],
    with_configs: Sequence[tuple[PromptTemplate, Mapping[str, Any] | None]],
    suite: Suite,
    env: Mapping[str, str],
) -> dict[tuple[int, int], Provider]:
    """Each provider made again for each prompt with a ``config`` it runs, with the prompt's
    settings over its own (promptfoo merges them so); the provider's config model checks
    them as it checks its own."""
    made: dict[tuple[int, int], Provider] = {}
    origin = suite.origin
    for prompt, (template, config) in enumerate(with_configs):
        if not config:
            continue
        where = origin.location("prompts") if origin else None
        if any(test.provider is not None for test in plan.tests):
            raise SuiteError(
                f"the prompt '{template.id}' has a config and a test names its own provider: "
                "put the settings in that provider's config instead",
                where,
            )
        for index, entry in enumerate(entries):
            if prompt not in plan.prompts_of(index):
                continue
            if not isinstance(entry, ProviderSpec):
                raise SuiteError(
                    f"the prompt '{template.id}' has a config, which needs providers given "
                    f"by id or spec (not '{entry.id}', a ready provider object)",
                    where,
                )
            merged = entry.model_copy(update={"config": {**entry.config, **config}})
            context = ProviderContext(suite.base_dir, env, where)
            made[(prompt, index)] = create_provider(merged, context)
    return made
