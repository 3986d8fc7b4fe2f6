"""``robustness``: perturbed copies of the user's cases (only their input variables), and
the pass-rate drop against the originals, paired, with a 95% bootstrap interval (cases
resampled with their copies), per perturbation."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..analysis._compare import BOOTSTRAP_SAMPLES
from ..core._errors import PrompteurError
from ..core._results import CellResult
from ..eval._plan import Plan
from ..providers._base import Provider
from ._generated import Variant, variant_tag
from ._outcomes import CategoryOutcome, Example, GroupRate, SafetyResult
from ._perturbations import LOCAL_PERTURBATIONS, PERTURBATIONS, perturb

__all__ = [
    "LOCAL_PERTURBATIONS",
    "PERTURBATIONS",
    "RobustnessDesign",
    "case_bootstrap",
    "check_perturbations",
    "measure_robustness",
    "perturbed_copies",
]

EXAMPLES_KEPT = 5
_PARAPHRASE = (
    "Rewrite the text below in other words, keeping its meaning, its language and every "
    "fact, name and number. Answer with the rewritten text only.{variant}\n\nText:\n{text}"
)


@dataclass
class RobustnessDesign:
    variants: list[Variant] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    #: why paraphrases were not made (a failed call: the copy is left out)
    failures: list[str] = field(default_factory=list)


def perturbed_copies(
    plan: Plan,
    perturbations: Sequence[str],
    inputs: Sequence[str],
    *,
    copies: int,
    seed: int,
    paraphraser: Provider | None = None,
) -> RobustnessDesign:
    """``copies`` perturbed copies of each case per perturbation; a copy identical to the
    original (nothing to perturb) is no attempt and is counted as skipped."""
    design = RobustnessDesign()
    for name in perturbations:
        design.skipped[name] = 0
        made: dict[tuple[int, int], dict[str, str]] = {}
        if name == "paraphrase":
            if paraphraser is None:
                raise PrompteurError("the paraphrase perturbation needs --paraphraser PROVIDER")
            made = asyncio.run(_paraphrases(plan, inputs, copies, paraphraser, design.failures))
        for test in plan.tests:
            texts = {k: v for k, v in test.vars.items() if k in inputs and isinstance(v, str)}
            for copy in range(copies):
                if name == "paraphrase":
                    changed = made.get((test.index, copy), {})
                else:
                    rng = random.Random(f"{seed}:{name}:{test.key}:{copy}")
                    changed = {k: perturb(name, v, rng) for k, v in texts.items()}
                changed = {k: v for k, v in changed.items() if v != texts.get(k)}
                if not changed:
                    design.skipped[name] += 1
                    continue
                detail = {"copy": copy, "changed": sorted(changed)}
                design.variants.append(Variant(test.index, name, {**test.vars, **changed}, detail))
    return design


async def _paraphrases(
    plan: Plan, inputs: Sequence[str], copies: int, provider: Provider, failures: list[str]
) -> dict[tuple[int, int], dict[str, str]]:
    """Each case's inputs, rewritten by ``provider`` (a failed call leaves the copy out)."""
    from ..providers._base import CompletionRequest

    limit = asyncio.Semaphore(4)
    found: dict[tuple[int, int], dict[str, str]] = {}

    async def one(test: int, copy: int, key: str, text: str) -> None:
        variant = f" This is rewrite number {copy + 1}." if copies > 1 else ""
        request = CompletionRequest.from_text(_PARAPHRASE.format(variant=variant, text=text))
        async with limit:
            try:
                completion = await provider.complete(request)
            except Exception as exc:  # a copy not made, counted as skipped, and said
                failures.append(str(exc) or type(exc).__name__)
                return
        output = completion.output.strip()
        if output:
            found.setdefault((test, copy), {})[key] = output

    try:
        async with asyncio.TaskGroup() as group:
            for test in plan.tests:
                for key in inputs:
                    text = test.vars.get(key)
                    if isinstance(text, str) and text.strip():
                        for copy in range(copies):
                            group.create_task(one(test.index, copy, key, text))
    finally:
        close = getattr(provider, "aclose", None)
        if close is not None:
            await close()
    return found


def measure_robustness(
    results: Iterable[CellResult],
    *,
    run_id: str,
    suite: str | None,
    prompt: str,
    settings: Mapping[str, Any],
    seed: int = 0,
) -> SafetyResult:
    """Pair each perturbed cell with its original (same prompt, provider, repeat): per
    perturbation, the pass-rate drop (original minus perturbed) with its paired-bootstrap
    interval (cases resampled with their copies); ``hits`` are the pairs the perturbation
    broke (passed, then failed)."""
    originals: dict[tuple[int, int, int, int], CellResult] = {}
    copies: list[tuple[CellResult, Mapping[str, Any]]] = []
    for result in results:
        tag = variant_tag(result.metadata)
        if tag is None:
            key = (result.prompt_index, result.provider_index, result.test_index, result.repeat)
            originals[key] = result
        else:
            copies.append((result, tag))
    skipped = dict(settings.get("skipped") or {})
    names = list(settings.get("perturbations") or ()) or sorted(
        {str(tag["category"]) for _, tag in copies}
    )
    categories = []
    for name in names:
        pairs = errors = worsened = improved = before = after = 0
        # per original cell: the sum of (original - copy) over its copies, and their count
        by_case: dict[tuple[int, int, int, int], list[int]] = {}
        broken: list[Example] = []
        flagged: list[str] = []
        for copy, tag in copies:
            if tag["category"] != name:
                continue
            original = originals.get(
                (copy.prompt_index, copy.provider_index, int(tag["of"]), copy.repeat)
            )
            if original is None or original.status == "error" or copy.status == "error":
                errors += 1
                continue
            pairs += 1
            was, now = original.status == "pass", copy.status == "pass"
            case = by_case.setdefault(
                (copy.prompt_index, copy.provider_index, int(tag["of"]), copy.repeat), [0, 0]
            )
            case[0] += int(was) - int(now)
            case[1] += 1
            before += was
            after += now
            if was and not now:
                worsened += 1
                flagged.append(copy.key)
                if len(broken) < EXAMPLES_KEPT:
                    reason = "passed as written, failed perturbed: " + "; ".join(
                        a.reason for a in copy.failed_assertions()
                    )
                    broken.append(Example(copy.key, copy.prompt, copy.output or "", reason))
            elif now and not was:
                improved += 1
        low, high = case_bootstrap(list(by_case.values()), seed=seed)
        categories.append(
            CategoryOutcome(
                name,
                pairs,
                worsened,
                (worsened - improved) / pairs if pairs else 0.0,
                low,
                high,
                tuple(broken),
                skipped=int(skipped.get(name, 0)),
                errors=errors,
                groups=(GroupRate.of("original", before, pairs), GroupRate.of(name, after, pairs)),
                flagged=tuple(flagged),
            )
        )
    return SafetyResult(
        "robustness", run_id, suite, prompt, "pass-rate drop", tuple(categories), dict(settings)
    )


RESAMPLE_CELLS = 1_000_000


def case_bootstrap(
    cases: Sequence[Sequence[int]], *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> tuple[float, float]:
    """95% percentile interval of the drop, resampling cases (each with all its copies):
    the copies of one case are not independent, so resampling them one by one would make
    the interval too narrow. ``cases`` are (sum of original - copy, number of copies)."""
    if not cases:
        return 0.0, 0.0
    import numpy as np

    rng = np.random.default_rng(seed)
    sums = np.array([c[0] for c in cases], dtype=float)
    counts = np.array([c[1] for c in cases], dtype=float)
    # resamples drawn a block at a time: memory stays near RESAMPLE_CELLS values however
    # many cases there are (all at once, 10,000 cases took gigabytes)
    n = len(cases)
    block = max(1, RESAMPLE_CELLS // n)
    drops = np.empty(samples)
    for start in range(0, samples, block):
        rows = min(block, samples - start)
        chosen = rng.integers(0, n, size=(rows, n))
        drops[start : start + rows] = sums[chosen].sum(axis=1) / counts[chosen].sum(axis=1)
    low, high = np.quantile(drops, [0.025, 0.975])
    return float(low), float(high)


def check_perturbations(names: Sequence[str]) -> list[str]:
    from ..core._errors import did_you_mean

    for name in names:
        if name not in PERTURBATIONS:
            raise PrompteurError(
                f"unknown perturbation '{name}'{did_you_mean(name, PERTURBATIONS)} "
                f"(known: {', '.join(PERTURBATIONS)})"
            )
    return list(names)
