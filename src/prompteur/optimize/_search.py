"""The search: candidates from the catalogue, demonstrations, proposer rewrites and
reflection, raced on validation cases within the budget. Seeded: the same seed with a
warm cache gives the same result."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..prompts._template import PromptTemplate
from ._candidate import Candidate, Demo, PromptShape
from ._catalogue import catalogue, failure_edits
from ._proposer import Proposer, induce_request, reflect_request, rewrite_request
from ._race import clearly_better, mean, significantly_worse
from ._scoring import Scorer

__all__ = ["METHODS", "Search", "Splits"]

METHODS = ("auto", "demos", "instructions", "reflect")
FIRST_RUNG = 5
MINIBATCH = 3
DEMO_CHARS = 2400  # demonstrations beyond this many characters are left out of a set


@dataclass(frozen=True)
class Splits:
    train: list[int]
    validation: list[int]
    holdout: list[int]


@dataclass
class Tried:
    candidate: Candidate
    calls_at: int  # calls spent when it entered


@dataclass
class Search:
    scorer: Scorer
    shape: PromptShape
    proposer: Proposer
    splits: Splits
    answer_format: str
    demo_pool: list[Demo]
    rng: random.Random
    on_progress: Callable[[Search, str], None] | None = None
    start: Candidate = field(default_factory=Candidate)
    best: Candidate = field(default_factory=Candidate)
    tried: dict[str, Tried] = field(default_factory=dict)
    curve: list[tuple[int, float]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    phase: str = "start"
    pool: list[Candidate] = field(default_factory=list)  # candidates not raced yet
    text_only: bool = False  # a text prompt's demonstrations only as an examples block
    labelled: bool = False  # the answer format names a few labels (the answers' own)
    _templates: dict[str, PromptTemplate] = field(default_factory=dict)

    # -- candidates
    def admit(self, candidate: Candidate) -> PromptTemplate | None:
        """The candidate's template, if it is new and renders (else it is counted)."""
        if candidate.key in self._templates:
            if candidate.key in self.tried:
                return None
            self.tried[candidate.key] = Tried(candidate, self.scorer.ledger.asked)
            return self._templates[candidate.key]
        try:
            template = self.shape.template(candidate)
            sample = self.splits.train or self.splits.validation
            template.render(self.scorer.plan.tests[sample[0]].vars)
        except Exception:
            self.skipped["breaks the template"] += 1
            return None
        self._templates[candidate.key] = template
        self.tried[candidate.key] = Tried(candidate, self.scorer.ledger.asked)
        return template

    async def scores(self, candidate: Candidate, cases: Sequence[int]) -> list[float] | None:
        """The candidate's scores on every one of ``cases``, None if the budget cut them."""
        template = self._templates[candidate.key]
        found = await self.scorer.score(candidate.key, template, cases)
        if len(found) < len(cases):
            return None
        return [found[c].score for c in cases]

    def validation_score(self, candidate: Candidate) -> float | None:
        known = self.scorer.known(candidate.key, self.splits.validation)
        if len(known) < len(self.splits.validation):
            return None
        return mean([s.score for s in known.values()])

    def _progress(self) -> None:
        score = self.validation_score(self.best)
        if score is not None:
            self.curve.append((self.scorer.ledger.asked, score))
        if self.on_progress is not None:
            self.on_progress(self, self.phase)

    # -- the start
    async def begin(self) -> bool:
        """Score the start on the validation cases; False if the budget could not."""
        self.admit(self.start)
        done = await self.scores(self.start, self.splits.validation)
        if done is not None:
            self.splits = replace(self.splits, validation=self._informative_order(done))
        self._progress()
        return done is not None

    def _informative_order(self, start_scores: list[float]) -> list[int]:
        """The validation cases in the order races read them: the start's failures and
        successes spread evenly, the rarer of the two first, so that every rung holds
        both, in about the proportion the whole validation set does. A rung is then close
        to a fair sample of the whole: a candidate that fixes failures is seen on the
        first rung even when the start passes few cases, one that breaks successes even
        when the start passes most, and neither weighs on a rung much more than on the
        whole (alternating them one for one made the first rungs of a start passing 8% of
        cases 40% successes, and dropped there every candidate that did not keep those
        few). Paired comparisons on them stay fair: the order depends on the start
        alone."""
        cases = self.splits.validation
        failed = [c for c, s in zip(cases, start_scores, strict=True) if s < 1.0]
        passed = [c for c, s in zip(cases, start_scores, strict=True) if s >= 1.0]
        rare, common = (passed, failed) if len(passed) <= len(failed) else (failed, passed)
        total, count = len(cases), len(rare)
        ordered: list[int] = []
        taken = 0  # cases of the rarer kind placed so far
        for position in range(1, total + 1):
            # the rarer kind goes where it falls short of its share, rounded up (in whole
            # numbers): first at position 1, then one in every total/count (alternating
            # at half and half)
            if rare and (taken < -(-position * count // total) or not common):
                ordered.append(rare.pop(0))
                taken += 1
            else:
                ordered.append(common.pop(0))
        return ordered

    # -- racing
    def entrants_for(self, cap: float) -> int:
        """How many entrants a race can take within ``cap`` calls: successive halving
        from the first rung to the whole validation set (each rung doubles the cases and
        keeps half of the entrants), so that the survivors are scored on all of it."""
        cases = len(self.splits.validation)
        per_case = len(self.scorer.providers) * (1 + self.scorer.judge_calls)
        first = min(FIRST_RUNG, cases)
        fitting = 1
        for entrants in range(1, 65):
            cost, alive, scored, size = 0, entrants, 0, first
            while True:
                cost += alive * (size - scored)
                if size >= cases:
                    break
                scored, size, alive = size, min(cases, size * 2), math.ceil(alive / 2)
            if cost * per_case > cap:
                break
            fitting = entrants
        return max(2, fitting)

    async def race_pool(self, cap: float) -> None:
        """Race the next entrants of the pool, as many as ``cap`` calls can take."""
        count = self.entrants_for(cap)
        entrants, self.pool = self.pool[:count], self.pool[count:]
        await self.race(entrants, cap)

    async def race(self, entrants: Sequence[Candidate], cap: float) -> None:
        """Race ``entrants`` against the best so far, spending at most ``cap`` calls."""
        ledger = self.scorer.ledger
        stop_at = ledger.asked + cap
        alive = [c for c in entrants if self.admit(c) is not None]
        validation = self.splits.validation
        size = min(FIRST_RUNG, len(validation))
        while alive:
            cases = validation[:size]
            incumbent = await self.scores(self.best, cases)
            if incumbent is None:
                break
            scored: list[tuple[Candidate, list[float]]] = []
            over_cap = False
            for candidate in alive:
                if ledger.asked >= stop_at and scored:
                    over_cap = True  # past its share: only the leader goes on
                    break
                found = await self.scores(candidate, cases)
                if found is not None:
                    scored.append((candidate, found))
            if not scored:
                break
            scored.sort(key=lambda pair: -mean(pair[1]))  # stable: earlier entrants first
            leader = scored[0][1] if mean(scored[0][1]) >= mean(incumbent) else incumbent
            kept = [
                (c, s)
                for c, s in scored
                if not significantly_worse(s, leader) and mean(s) >= mean(incumbent) - 0.25
            ]
            if over_cap or ledger.asked >= stop_at:
                kept = [(c, s) for c, s in kept[:1] if mean(s) > mean(incumbent)]
            else:
                kept = kept[: max(1, math.ceil(len(scored) / 2))]
            if size >= len(validation):
                for candidate, found in kept:
                    if clearly_better(found, incumbent):
                        self.best, incumbent = candidate, found
                self._progress()
                break
            self._progress()
            alive = [c for c, _ in kept]
            size = min(len(validation), size * 2)

    # -- methods
    def instruction_candidates(self) -> list[Candidate]:
        """The catalogue's edits, then those aimed at what the start's failures show."""
        start_val = self.scorer.known(self.start.key, self.splits.validation)
        failing = [s.output for s in start_val.values() if not s.passed]
        answers = [d.answer for d in self.demo_pool]
        # a sample answer shows the form; not where answers are a few labels (it would
        # lean the model towards one of them)
        example = self.demo_pool[0].answer if self.demo_pool and not self.labelled else None
        found = catalogue(
            self.answer_format,
            self.scorer.plan.tests,
            chat=self.shape.chat,
            example=example,
            body=None if self.shape.chat else self.shape.start.raw,
        )
        edits = failure_edits(self.answer_format, failing, answers)
        return found[:2] + edits + found[2:]

    async def instructions(self, cap: float, *, proposals: bool = True) -> None:
        self.phase = "instructions"
        if not self.pool:
            self.pool = self.instruction_candidates()
            if proposals and ledger_room(self, 3):
                self.pool += await self._proposals()
        await self.race_pool(cap)

    async def _proposals(self) -> list[Candidate]:
        found: list[Candidate] = []
        known = [t.candidate.instruction for t in self.tried.values()]
        sample = self.rng.sample(self.demo_pool, min(3, len(self.demo_pool)))
        asks = [("proposer: rewrite", rewrite_request(self.answer_format, sample))]
        if sample:
            asks.append(("proposer: induced from demos", induce_request(sample)))
        for origin, text in asks:
            instruction = self.proposer.clean(await self.proposer.ask(text), known)
            if instruction is not None:
                found.append(Candidate(instruction, place="before", origin=origin))
                found.append(
                    Candidate(
                        f"{instruction} {self.answer_format}",
                        place="after",
                        origin=f"{origin} + answer format",
                    )
                )
        return found

    def demo_sets(self, base: Candidate) -> list[Candidate]:
        """Demonstration sets on ``base``, the likeliest first: four, eight, two, four
        in another order. A text prompt gets each as message pairs first (what chat
        models follow best), then as an examples block."""
        pool = list(self.demo_pool)
        if not pool:
            return []
        by_answer: dict[str, list[Demo]] = {}
        for demo in pool:
            by_answer.setdefault(demo.answer, []).append(demo)
        few_labels = len(by_answer) <= 8 and len(pool) >= 2 * len(by_answer)
        sets: list[Candidate] = []
        for size, variant in ((4, 0), (8, 0), (2, 0), (4, 1)):
            size = min(size, len(pool))
            if few_labels:  # as many of each label, in turn
                groups = [self.rng.sample(g, len(g)) for g in by_answer.values()]
                chosen = [d for row in zip(*groups, strict=False) for d in row][:size]
                chosen += [d for d in pool if d not in chosen][: size - len(chosen)]
            else:
                chosen = self.rng.sample(pool, size)
            if variant:
                chosen = self.rng.sample(chosen, len(chosen))
            kept: list[Demo] = []
            for demo in chosen:
                if sum(len(d.input) for d in kept) + len(demo.input) <= DEMO_CHARS:
                    kept.append(demo)
            if kept:
                sets.append(replace(base, demos=tuple(kept), origin=f"{base.origin} + demos"))
        if self.shape.chat or self.text_only:
            return _unique(sets)
        turns = [replace(c, turns=True, origin=f"{c.origin} as turns") for c in sets]
        return _unique(turns + sets)

    def joint_pool(self) -> list[Candidate]:
        """Instructions and demonstrations together, the likeliest first: the answer
        format with demonstrations, alone, demonstrations alone, then in turn the rest
        of each kind."""
        fmt = Candidate(self.answer_format, place="after", origin="catalogue: answer format")
        with_format = self.demo_sets(fmt)
        plain = self.demo_sets(self.start)
        alone = self.instruction_candidates()
        return _unique(_interleave(with_format, alone, plain))

    async def demos(self, cap: float) -> None:
        self.phase = "demos"
        if not self.demo_pool:
            await self.bootstrap(cap / 3)
        if not self.pool:
            bases = [self.best] if self.best.origin != "start" else []
            bases.append(self.start if not bases else replace(self.best, instruction=""))
            known = set(self.tried)
            self.pool = [c for base in bases for c in self.demo_sets(base) if c.key not in known]
        await self.race_pool(cap)

    async def joint(self, cap: float, *, proposals: bool = False) -> None:
        """``auto``'s first stage: demonstrations and instructions raced together, with
        the proposer's rewrites among the first entrants when ``proposals``."""
        self.phase = "instructions and demos"
        if not self.demo_pool:
            await self.bootstrap(cap / 4)
        self.pool = self.joint_pool()
        if proposals and ledger_room(self, 3):
            proposed = await self._proposals()
            self.pool = _unique(self.pool[:3] + proposed + self.pool[3:])
        await self.race_pool(cap)

    async def bootstrap(self, cap: float) -> None:
        """Demonstrations from the model's own passing answers on training cases."""
        ledger = self.scorer.ledger
        stop_at = ledger.asked + cap
        template = self.admit(self.best) or self._templates[self.best.key]
        for case in self.splits.train:
            if ledger.asked >= stop_at or len(self.demo_pool) >= 8:
                break
            found = await self.scorer.score(self.best.key, template, [case])
            if case in found and found[case].passed and found[case].output.strip():
                variables = self.scorer.plan.tests[case].vars
                self.demo_pool.append(
                    Demo(case, self.shape.demo_input(variables), found[case].output.strip())
                )

    def pareto_front(self) -> list[Candidate]:
        cases = self.splits.validation[: min(FIRST_RUNG, len(self.splits.validation))]
        scored = []
        for tried in self.tried.values():
            known = self.scorer.known(tried.candidate.key, cases)
            if len(known) == len(cases):
                scored.append((tried.candidate, [known[c].score for c in cases]))
        if not scored:
            return [self.best]
        front = [
            c
            for c, s in scored
            if any(s[i] >= max(o[i] for _, o in scored) for i in range(len(cases)))
        ]
        return front or [self.best]

    async def reflect(self, cap: float) -> None:
        self.phase = "reflect"
        ledger = self.scorer.ledger
        stop_at = ledger.asked + cap * 0.6
        train = self.rng.sample(self.splits.train, len(self.splits.train))
        children: list[Candidate] = []
        known = [t.candidate.instruction for t in self.tried.values()]
        position = 0
        for _ in range(12):
            if ledger.asked + 2 * MINIBATCH + 1 > stop_at or not train:
                break
            front = self.pareto_front()
            parent = front[self.rng.randrange(len(front))]
            batch = [train[(position + i) % len(train)] for i in range(MINIBATCH)]
            position += MINIBATCH
            self.admit(parent)
            template = self._templates[parent.key]
            found = await self.scorer.score(parent.key, template, batch)
            failures = [
                (
                    self.shape.demo_input(self.scorer.plan.tests[c].vars),
                    s.output,
                    s.reason or "the checks failed",
                )
                for c, s in found.items()
                if not s.passed
            ]
            if not failures:
                continue
            sentence = self.proposer.clean(
                await self.proposer.ask(reflect_request(parent.instruction, failures)), known
            )
            if sentence is None:
                continue
            known.append(sentence)
            child = replace(
                parent,
                instruction=f"{parent.instruction} {sentence}".strip(),
                origin="reflect",
                place=parent.place if parent.instruction else "after",
            )
            if self.admit(child) is None:
                continue
            mine = await self.scorer.score(child.key, self._templates[child.key], batch)
            if sum(s.score for s in mine.values()) > sum(s.score for s in found.values()):
                children.append(child)
                del self.tried[child.key]  # raced below as a new entrant
        await self.race(children, max(0.0, stop_at + cap * 0.4 - ledger.asked))

    def summary(self) -> dict[str, Any]:
        rows = []
        start = self.scorer.known(self.start.key, self.splits.validation)
        for tried in self.tried.values():
            known = self.scorer.known(tried.candidate.key, self.splits.validation)
            # a score on part of the validation cases is read against the start's on the
            # very same cases (a rung holds the start's failures and successes in their
            # whole proportion, but a candidate's own are spread as they fall)
            beside = [start[c].score for c in known if c in start]
            rows.append(
                {
                    "key": tried.candidate.key,
                    "origin": tried.candidate.origin,
                    "instruction": tried.candidate.instruction,
                    "demos": len(tried.candidate.demos),
                    "cases": len(known),
                    "score": mean([s.score for s in known.values()]) if known else None,
                    "start_score": mean(beside) if known and len(beside) == len(known) else None,
                }
            )
        return {"candidates": rows, "curve": self.curve, "skipped": dict(self.skipped)}


def _interleave(*lists: Sequence[Candidate]) -> list[Candidate]:
    found: list[Candidate] = []
    for row in range(max((len(x) for x in lists), default=0)):
        found += [x[row] for x in lists if row < len(x)]
    return found


def _unique(candidates: Sequence[Candidate]) -> list[Candidate]:
    seen: set[str] = set()
    found = []
    for candidate in candidates:
        if candidate.key not in seen:
            seen.add(candidate.key)
            found.append(candidate)
    return found


def ledger_room(search: Search, calls: int) -> bool:
    return search.scorer.ledger.affordable_calls() >= calls
