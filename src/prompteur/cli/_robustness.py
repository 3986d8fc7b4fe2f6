"""``prompteur robustness``: perturbed copies of the suite's cases (typos, case, whitespace,
punctuation, a distracting sentence, homoglyphs, paraphrases by a named model), and the
paired pass-rate drop per perturbation; a gate for CI."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._common import db_option, open_store
from ._safety import report_options, run_and_report, split_list, target_options

if TYPE_CHECKING:
    from ..core._results import CellResult
    from ..providers._base import Provider
    from ..redteam._outcomes import SafetyResult

_DEFAULT = "typos,case,whitespace,punctuation,distractor,homoglyphs"


@click.command("robustness")
@target_options
@click.option(
    "--perturbations",
    metavar="LIST",
    default=_DEFAULT,
    show_default=True,
    help="Perturbations, comma-separated; add 'paraphrase' with --paraphraser.",
)
@click.option(
    "--paraphraser",
    metavar="PROVIDER",
    help="The model that paraphrases the inputs (e.g. local, openai:chat:gpt-4o-mini).",
)
@click.option(
    "-n",
    "--copies",
    type=click.IntRange(min=1, max=100),
    default=1,
    show_default=True,
    help="Perturbed copies of each case per perturbation.",
)
@click.option(
    "--vars",
    "variables",
    metavar="LIST",
    help="The variables holding the input [default: those the prompt renders].",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="The same seed makes the same copies."
)
@click.option(
    "--max-drop",
    default="10%",
    show_default=True,
    metavar="RATE",
    help="Exit 1 when a perturbation's pass-rate drop is above this (10% or 0.1).",
)
@report_options
@db_option
def robustness_command(
    suite: Path | None,
    prompt: str | None,
    providers: tuple[str, ...],
    perturbations: str,
    paraphraser: str | None,
    copies: int,
    variables: str | None,
    seed: int,
    max_drop: str,
    outputs: tuple[Path, ...],
    no_progress: bool,
    db: str | None,
) -> None:
    """Run perturbed copies of SUITE's cases beside the originals, as one run in the
    store. Only the variables the prompt renders are perturbed, never the expected answers
    the assertions read.

    \b
    Per perturbation: the pass-rate drop (original minus perturbed, over pairs of a case
    and its copy) with a 95% bootstrap interval over cases (each with its copies, which
    are not independent), and the copies that broke a passing case.
    Exit codes: 0 every drop at most --max-drop, 1 some above, 2 bad input.
    """
    from ..redteam._generated import input_variables, plan_for_prompt
    from ..redteam._outcomes import parse_rate_limit
    from ..redteam._robustness import check_perturbations, perturbed_copies
    from ..redteam._safety_report import check_safety_outputs
    from ._eval import suite_file_of

    limit = parse_rate_limit(max_drop)
    check_safety_outputs(outputs)
    chosen = check_perturbations(split_list(perturbations, ()))
    if paraphraser and "paraphrase" not in chosen:
        chosen.append("paraphrase")
    target = suite_file_of(suite) or Path.cwd()
    store = open_store(db)
    plan = plan_for_prompt(target, prompt=prompt, providers=providers, store=store)
    inputs = input_variables(plan, split_list(variables, ()))
    model = _paraphraser(paraphraser, plan) if "paraphrase" in chosen else None
    design = perturbed_copies(plan, chosen, inputs, copies=copies, seed=seed, paraphraser=model)
    if design.failures:
        click.echo(
            f"robustness: {len(design.failures)} paraphrases failed "
            f"(those copies are left out): {design.failures[0]}",
            err=True,
        )
    settings = {
        "perturbations": chosen,
        "copies": copies,
        "seed": seed,
        "paraphraser": paraphraser,
        "inputs": inputs,
        "skipped": design.skipped,
        "max_drop": limit,
    }
    run_and_report(
        command="robustness",
        plan=plan,
        variants=design.variants,
        settings=settings,
        store=store,
        providers=providers,
        outputs=outputs,
        limit=limit,
        measure=_measure,
        no_progress=no_progress,
    )


def _paraphraser(provider: str | None, plan: Any) -> Provider:
    from ..config._models import ProviderSpec
    from ..core._errors import PrompteurError
    from ..providers._base import ProviderContext
    from ..providers._registry import create_provider

    if provider is None:
        raise PrompteurError("the paraphrase perturbation needs --paraphraser PROVIDER")
    base = plan.suite.base_dir if plan.suite is not None else Path.cwd()
    return create_provider(ProviderSpec(id=provider), ProviderContext(base))


def _measure(
    run_id: str,
    suite: str | None,
    prompt: str,
    settings: Mapping[str, Any],
    results: Iterable[CellResult],
) -> SafetyResult:
    from ..redteam._robustness import measure_robustness

    return measure_robustness(
        results,
        run_id=run_id,
        suite=suite,
        prompt=prompt,
        settings=settings,
        seed=int(settings.get("seed") or 0),
    )
