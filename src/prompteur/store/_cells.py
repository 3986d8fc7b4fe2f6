"""Reading a run's cells: whole or lightly, its summary, and the human verdicts on them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Select, select

from ..core._results import CellResult, HumanVerdict
from ..core._summary import RunSummary, SummaryBuilder
from . import _schema as t
from ._errors import StoreError
from ._records import CellOutcome, PromptUsage, RunInfo, case_label
from ._rows import assertion_from_json, storable_row
from ._verdicts import ratings_as_given

__all__ = ["CellReader"]


def _in_plan_order(run_id: str, *columns: Any) -> Select[Any]:
    """``columns`` of the run's cells joined to their cases, in plan order (test, prompt,
    provider, repeat)."""
    cell = t.results.c
    return (
        select(*columns)
        .join(t.cases, t.cases.c.key == cell.test_key)
        .where(cell.run_id == run_id)
        .order_by(cell.test_pos, cell.prompt_pos, cell.provider_pos, cell.repeat)
    )


class CellReader:
    """The cells half of a Store."""

    engine: Engine

    if TYPE_CHECKING:

        def run(self, ref: str) -> RunInfo: ...

    def cell_keys(self, run_id: str, *, status: str | None = None) -> set[str]:
        query = select(t.results.c.cell_key).where(t.results.c.run_id == run_id)
        if status is not None:
            query = query.where(t.results.c.status == status)
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def failed_case_keys(self, ref: str) -> set[str]:
        """The cases (``cases.key``) of which some cell failed or errored in run ``ref``."""
        run_id = self.run(ref).id
        query = (
            select(t.results.c.test_key)
            .where(t.results.c.run_id == run_id, t.results.c.status.in_(("fail", "error")))
            .distinct()
        )
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def results(
        self, run_id: str, *, batch: int = 1000, human: bool = True, cell_key: str | None = None
    ) -> Iterator[CellResult]:
        """The run's cells in plan order (test, prompt, provider, repeat), read in pages,
        with the human verdicts given on them (unless ``human`` is False); ``cell_key``:
        that cell only."""
        info = self.run(run_id)
        cases = t.cases
        query = _in_plan_order(
            run_id, t.results, cases.c.description, cases.c.vars, cases.c.metadata
        )
        if cell_key is not None:
            query = query.where(t.results.c.cell_key == cell_key)
        # the result is closed however far the caller reads (PostgreSQL streams it through
        # a server-side cursor)
        with self.engine.connect() as conn:
            verdicts = self._verdicts(conn, run_id) if human else {}
            rows = conn.execution_options(yield_per=batch).execute(query)
            with rows:
                for row in rows:
                    yield CellResult(
                        prompt_index=row.prompt_pos,
                        provider_index=row.provider_pos,
                        test_index=row.test_pos,
                        repeat=row.repeat,
                        prompt_id=info.prompts[row.prompt_pos][0],
                        provider_id=info.providers[row.provider_pos][0],
                        test_description=row.description,
                        vars=row.vars or {},
                        prompt=row.rendered_prompt,
                        output=row.output,
                        error=row.error,
                        passed=row.status == "pass",
                        score=row.score,
                        assertions=tuple(assertion_from_json(a) for a in row.assertions or ()),
                        latency_ms=row.latency_ms,
                        prompt_tokens=row.prompt_tokens,
                        completion_tokens=row.completion_tokens,
                        cost=row.cost,
                        finish_reason=row.finish_reason,
                        cached=row.cached,
                        attempts=row.attempts,
                        metadata=row.metadata or {},
                        model=row.model,
                        grader_prompt_tokens=row.grader_prompt_tokens,
                        grader_completion_tokens=row.grader_completion_tokens,
                        grader_cost=row.grader_cost,
                        human=verdicts.get(row.cell_key),
                    )

    def outcomes(
        self, run_id: str, *, prompt_positions: set[int] | None = None
    ) -> Iterator[CellOutcome]:
        """The run's cells, lightly: enough to pair and compare them with another run."""
        info = self.run(run_id)
        cases = t.cases
        query = _in_plan_order(
            run_id,
            t.results.c.prompt_pos,
            t.results.c.provider_pos,
            t.results.c.test_key,
            t.results.c.repeat,
            t.results.c.cell_key,
            t.results.c.status,
            t.results.c.score,
            t.results.c.output,
            t.results.c.model,
            cases.c.description,
            cases.c.vars,
        )
        if prompt_positions is not None:
            query = query.where(t.results.c.prompt_pos.in_(sorted(prompt_positions)))
        with self.engine.connect() as conn:
            verdicts = self._verdicts(conn, run_id)
            rows = conn.execution_options(yield_per=2000).execute(query)
            with rows:
                for row in rows:
                    verdict = verdicts.get(row.cell_key)
                    status, score = row.status, row.score
                    if verdict is not None:
                        status = "pass" if verdict.passed else "fail"
                        if verdict.score is not None:
                            score = verdict.score
                    yield CellOutcome(
                        row.prompt_pos,
                        info.prompts[row.prompt_pos][0],
                        info.prompts[row.prompt_pos][1],
                        info.providers[row.provider_pos][0],
                        row.test_key,
                        row.repeat,
                        status,
                        row.output,
                        row.model,
                        case_label(row.description, row.vars or {}),
                        verdict is not None,
                        row.provider_pos,
                        None if status == "error" else score,
                    )

    def prompt_usage(self, name: str, *, limit: int = 20) -> list[PromptUsage]:
        """The latest runs that used the registered prompt ``name``: which version, on
        which provider, with what pass rate (human verdicts first, as everywhere)."""
        rp = t.run_prompts
        runs = (
            select(rp.c.run_id, t.runs.c.started_at)
            .join(t.runs, t.runs.c.id == rp.c.run_id)
            .where(rp.c.registry_name == name)
            .distinct()
            .order_by(t.runs.c.started_at.desc())
            .limit(limit)
        )
        usage: list[PromptUsage] = []
        with self.engine.connect() as conn:
            run_ids = [row.run_id for row in conn.execute(runs)]
        for run_id in reversed(run_ids):
            info = self.run(run_id)
            positions = {
                i: ref[1] for i, ref in enumerate(info.registered) if ref and ref[0] == name
            }
            counts: dict[tuple[int, str], list[int]] = {}
            for cell in self.outcomes(run_id, prompt_positions=set(positions)):
                key = (positions[cell.prompt_pos], cell.provider)
                done_passed = counts.setdefault(key, [0, 0])
                done_passed[0] += 1
                done_passed[1] += cell.status == "pass"
            for (version, provider), (done, passed) in counts.items():
                usage.append(PromptUsage(info.id, info.started_at, version, provider, done, passed))
        return usage

    # --- human verdicts ------------------------------------------------------------------------

    def rate(
        self,
        run_id: str,
        cell_key: str,
        *,
        passed: bool,
        author: str,
        score: float | None = None,
        comment: str | None = None,
    ) -> HumanVerdict:
        """Record a person's verdict on a cell; the latest one counts, earlier ones stay."""
        if score is not None and not 0 <= score <= 1:
            raise StoreError(f"a score lies between 0 and 1, not {score:g}")
        info = self.run(run_id)
        with self.engine.begin() as conn:
            row = conn.execute(
                select(t.results.c.status, t.results.c.output, t.results.c.error).where(
                    (t.results.c.run_id == info.id) & (t.results.c.cell_key == cell_key)
                )
            ).first()
            if row is None:
                raise StoreError(
                    f"run {info.id} has no cell '{cell_key}' (cells are named "
                    "prompt:provider:test:repeat, as 'prompteur show' lists them)"
                )
            if row.output is None:
                raise StoreError(
                    f"cell {cell_key} has no output to judge (its call failed: {row.error})"
                )
            verdict = HumanVerdict(passed, score, comment, author, time.time())
            rating = {
                "run_id": info.id,
                "cell_key": cell_key,
                "passed": passed,
                "score": score,
                "comment": comment,
                "author": author,
                "created_at": verdict.created_at,
            }
            conn.execute(t.ratings.insert().values(**storable_row(conn, t.ratings, rating)))
        return verdict

    def verdicts(self, run_id: str) -> dict[str, HumanVerdict]:
        """The latest human verdict on each rated cell of a run."""
        with self.engine.connect() as conn:
            return self._verdicts(conn, run_id)

    @staticmethod
    def _verdicts(conn: Connection, run_id: str) -> dict[str, HumanVerdict]:
        rows = conn.execute(ratings_as_given(run_id, t.ratings))
        return {
            row.cell_key: HumanVerdict(
                row.passed, row.score, row.comment, row.author, row.created_at
            )
            for row in rows
        }

    def summary(self, run_id: str, *, max_failures: int = 50) -> RunSummary:
        """The run's summary, rebuilt from its stored cells (memory stays flat)."""
        info = self.run(run_id)
        planned_per_group = info.total_cells // max(1, len(info.prompts) * len(info.providers))
        builder = SummaryBuilder(
            info.description, info.prompts, info.providers, planned_per_group, max_failures
        )
        for result in self.results(run_id):
            builder.add(result)
        summary = builder.summary
        summary.duration_s = info.duration_s or 0.0
        summary.interrupted = info.status != "finished"
        return summary
