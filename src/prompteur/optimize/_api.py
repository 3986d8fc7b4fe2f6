"""``optimize`` and ``optimize_async``: find a better prompt within a budget, and prove it
on held-out cases the search never saw.

The holdout's final scoring (the start and the winner, once each) is reserved inside the
budget before the search begins: the search spends only what is left, so the whole
search, holdout included, never exceeds the cap."""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config._models import ProviderSpec, Suite
from ..eval._api import close_providers, preflight_providers
from ..eval._options import EvalOptions
from ..eval._plan import Plan
from ..providers._base import ProviderContext
from ..providers._registry import create_provider
from ..store import Store, StoreCache
from ._budget import BudgetError, Ledger, parse_budget
from ._candidate import Candidate, PromptShape
from ._catalogue import answer_format, find_answer_var, labels
from ._outcome import OptimizeResult, holdout_result
from ._proposer import Proposer
from ._scoring import BudgetedProvider, Scorer
from ._search import FIRST_RUNG, METHODS, Search
from ._setup import OptimizeError, Settings, choose_prompt, labelled_demos, plan_search, split

__all__ = ["OptimizeError", "Settings", "optimize", "optimize_async"]

SuiteLike = Suite | str | Path | Mapping[str, Any]


def _new_id() -> str:
    return "opt-" + uuid.uuid4().hex[:12]


async def optimize_async(
    suite: SuiteLike | None = None,
    *,
    prompt: str | int | None = None,
    budget: str | int | float = 300,
    method: str = "auto",
    proposer: str | None = None,
    answer_var: str | None = None,
    holdout: str = "30%",
    seed: int = 0,
    providers: tuple[str, ...] | list[str] = (),
    store: Store | str | None = None,
    resume: str | None = None,
    register: bool = True,
    text_only: bool = False,
    on_progress: Callable[[Search, str], None] | None = None,
) -> OptimizeResult:
    """Search for a better version of one of the suite's prompts. ``budget`` caps the
    calls that reach a model (``300``), or tokens (``"50k tok"``) or dollars (``"2$"``).
    ``resume`` (a search id, or "" for the latest unfinished one) continues a search kept
    in ``store``; the calls it was charged stay charged. ``text_only`` keeps a text
    prompt's candidates text (demonstrations as an examples block, never as turns), for
    a winner that must be saved as plain text."""
    opened = store if isinstance(store, Store) else Store(store)
    try:
        return await _optimize(
            opened,
            suite,
            Settings(
                None if prompt is None else str(prompt),
                str(budget),
                method,
                proposer,
                answer_var,
                holdout,
                seed,
                tuple(providers),
                text_only,
            ),
            resume,
            register,
            on_progress,
        )
    finally:
        if opened is not store:
            opened.close()


async def _optimize(
    store: Store,
    suite: SuiteLike | None,
    settings: Settings,
    resume: str | None,
    register: bool,
    on_progress: Callable[[Search, str], None] | None,
) -> OptimizeResult:
    from ..store._searches import SearchStore

    searches = SearchStore(store)
    prior: Mapping[str, Any] = {}
    if resume is not None:
        record = searches.get(resume or None)
        settings = Settings.from_json(record.config)
        suite = suite if suite is not None else record.suite_path
        search_id, prior = record.id, record.charged
    else:
        search_id = _new_id()
    if suite is None:
        raise OptimizeError("no suite given")
    if settings.method not in METHODS:
        raise OptimizeError(
            f"--method must be one of {', '.join(METHODS)}, not '{settings.method}'"
        )
    budget = parse_budget(settings.budget)
    plan, held = plan_search(suite, settings, store)
    try:
        position = choose_prompt(plan, settings.prompt)
    except OptimizeError:
        plan, position = _registered_start(plan, settings.prompt, store) or (plan, -1)
        if position < 0:
            raise
    start_template = plan.prompts[position]
    if start_template.has_content_parts:  # candidates are written as the messages' text
        raise OptimizeError(
            f"the prompt '{start_template.label}' has image, audio or file parts: "
            "optimizing such a prompt is not supported yet"
        )
    shape = PromptShape(start_template)
    splits = split(len(plan.tests) - len(held or []), settings.holdout, settings.seed, held)
    answer_var = settings.answer_var or find_answer_var(plan.tests)
    if settings.answer_var and not any(settings.answer_var in t.vars for t in plan.tests):
        raise OptimizeError(f"--answer-var {settings.answer_var}: no test case has that variable")
    demo_pool = labelled_demos(plan, shape, splits.train, answer_var)
    answers = [d.answer for d in demo_pool]
    fmt = answer_format(plan.tests, answers)
    labelled = labels(answers) is not None

    ledger = Ledger(budget, prior)
    options = EvalOptions().resolve(plan.suite)
    cache = StoreCache(store)
    task = [BudgetedProvider(p, ledger, "task") for p in plan.providers]
    proposer_inner: Any = plan.providers[0]
    if settings.proposer:
        base = plan.suite.base_dir if plan.suite is not None else Path.cwd()
        proposer_inner = create_provider(ProviderSpec(id=settings.proposer), ProviderContext(base))
    scorer = Scorer(plan, task, ledger, cache, options)
    search = Search(
        scorer,
        shape,
        Proposer(BudgetedProvider(proposer_inner, ledger, "proposer"), cache, options),
        splits,
        fmt,
        demo_pool,
        random.Random(settings.seed),
        on_progress,
        text_only=settings.text_only,
        labelled=labelled,
    )
    # the holdout is reserved first (the start and the winner on every held-out case),
    # then the validation set is cut to a third of what is left, so that candidates get
    # the rest; every call counts, cached or not (a warm cache changes no decision)
    models = len(task) * (1 + scorer.judge_calls)  # calls a case costs, judges included
    reserve = 2 * len(splits.holdout) * models
    # sized on the budget alone, so that a resumed search sizes it as it began
    whole = Ledger(budget).affordable_calls(len(start_template.raw) + 200)
    room = whole - reserve
    kept = min(len(splits.validation), max(2 * FIRST_RUNG, room // (3 * models)))
    splits = replace(splits, validation=splits.validation[:kept])
    search.splits = splits
    minimal = reserve + (kept + min(FIRST_RUNG, kept)) * models
    if whole < minimal:
        raise BudgetError(
            f"budget {budget.describe()} cannot cover a minimal search: {minimal} calls "
            f"(the holdout {reserve}: start and winner on {len(splits.holdout)} cases; the "
            f"start and one candidate on {kept} validation cases): raise --budget or lower "
            "--holdout"
        )
    ledger.hold(reserve * ledger.estimate(len(start_template.raw) + 200))
    if resume is None:
        suite_path = str(Path.cwd() / suite) if isinstance(suite, str | Path) else None
        searches.create(search_id, suite_path, settings.to_json())
    else:
        searches.set_status(search_id, "running")
    ledger.on_charge = lambda charged: searches.charge(search_id, charged)

    def checkpoint(current: Search, phase: str) -> None:
        # the search so far, kept at every rung (what a crash leaves to look at)
        state = {"phase": phase, "best": current.best.origin, **current.summary()}
        searches.save_state(search_id, state, "running")
        if on_progress is not None:
            on_progress(current, phase)

    search.on_progress = checkpoint

    all_providers = plan
    interrupted = False
    try:
        await preflight_providers(all_providers)
        if settings.proposer:
            await search.proposer.provider.preflight()
        interrupted = not await _run(search, settings.method)
    except asyncio.CancelledError:
        interrupted = True
    finally:
        cache.flush()
    seen = scorer.seen_cases & set(splits.holdout)
    assert not seen, "the search saw held-out cases"
    outcome = OptimizeResult(search_id, settings, search, answer_var, interrupted=interrupted)
    try:
        if not interrupted:
            ledger.release()
            outcome.holdout = await holdout_result(search)
    except asyncio.CancelledError:
        outcome.interrupted = True
    finally:
        cache.flush()
        await close_providers(plan)
        if settings.proposer:
            await search.proposer.provider.aclose()
        cache.close()
    outcome.ledger = ledger.to_json()
    if register and outcome.improved and not outcome.interrupted:
        outcome.registered = _register(store, shape, search, outcome, _name_hint(suite))
    searches.save_state(
        search_id, outcome.to_json(), "interrupted" if outcome.interrupted else "finished"
    )
    return outcome


async def _run(search: Search, method: str) -> bool:
    """Spend the budget on ``method``; False if the start could not even be scored."""
    if not await search.begin():
        return True
    ledger = search.scorer.ledger

    def share(fraction: float) -> float:
        return ledger.affordable_calls() * fraction

    if method == "instructions":
        await search.instructions(share(0.8))
    elif method == "demos":
        await search.demos(share(0.8))
    elif method == "reflect":
        await search.reflect(share(1.0))
    else:  # demonstrations, catalogue and proposed instructions raced together, then
        # reflection on the best of them; a small budget goes whole to the one race: its
        # candidates are carried to the whole validation set rather than cut halfway by
        # a second race
        # (--budget 300 with 60 validation and 30 held-out cases leaves 180 calls here)
        ample = ledger.affordable_calls() >= 120
        await search.joint(share(0.6 if ample else 1.0), proposals=ample)
        if ample:
            await search.reflect(share(0.6))
    # what is left goes to the candidates not raced yet, then to more of the same (new
    # demonstration sets, reflection on the best), until a round adds no candidate
    methods = {"auto": ("reflect", "demos"), "instructions": ("reflect",)}.get(method, (method,))
    for _ in range(6):
        if ledger.affordable_calls() < 2 * FIRST_RUNG:
            break
        before = len(search.tried)
        if search.pool:
            await search.race_pool(share(0.6))
        else:
            for name in methods:
                await getattr(search, name)(share(0.6))
        if len(search.tried) == before:
            break
    search.phase = "done"
    search._progress()
    return True


def _registered_start(plan: Plan, wanted: str | None, store: Store) -> tuple[Plan, int] | None:
    """A registered prompt the suite does not name, to improve on the suite's tests."""
    from ..store._registry import PromptRegistry, RegistryError

    if not wanted:
        return None
    try:
        version = PromptRegistry(store).get(wanted)
    except RegistryError:
        return None
    template = version.template()
    try:
        for test in plan.tests[:50]:
            template.render(test.vars)
    except Exception as exc:
        raise OptimizeError(f"{version.ref} does not render for the suite's tests: {exc}") from None
    return replace(plan, prompts=[template], rendered={}, affixed=None), 0


def _name_hint(suite: SuiteLike) -> str | None:
    """A registry name for a prompt written inline: its suite file's (or folder's) name."""
    if not isinstance(suite, str | Path):
        return None
    path = Path(suite)
    generic = {"suite", "prompteur", "promptfooconfig", "config"}
    return path.parent.absolute().name if path.stem in generic else path.stem


def _register(
    store: Store, shape: PromptShape, search: Search, outcome: OptimizeResult, hint: str | None
) -> str:
    from ..store._registry import PromptRegistry, PromptSource

    registry = PromptRegistry(store)
    start = shape.start
    parent: int | None
    if start.registry is not None:
        name, parent = start.registry
    else:
        inline = start.id == start.raw or "{{" in start.label
        label = f"{hint}-prompt" if inline and hint else start.label
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-._")[:60] or "prompt"
        template, kind = shape.source(Candidate())
        if not shape.chat:
            template = start.raw
        first, _ = registry.add(
            name,
            PromptSource(template, kind, start.params, start.defaults),
            origin="import",
            message="the starting prompt of an optimizer search",
        )
        parent = first.version
    template, kind = shape.source(search.best)
    version, _ = registry.add(
        name,
        PromptSource(template, kind, start.params, start.defaults),
        origin="optimizer",
        parent=parent,
        labels=("candidate",),
        message=outcome.registry_message(),
    )
    return version.ref


def optimize(suite: SuiteLike | None = None, **kwargs: Any) -> OptimizeResult:
    """Synchronous twin of :func:`optimize_async` (also usable inside a running event
    loop: it then runs on a helper thread)."""
    coroutine = optimize_async(suite, **kwargs)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
