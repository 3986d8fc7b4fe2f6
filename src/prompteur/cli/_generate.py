"""``prompteur generate tests``: new test cases for a suite, written by a model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click


@click.group("generate")
def generate_command() -> None:
    """Generate suite material with a model."""


@generate_command.command("tests")
@click.argument("suite", type=click.Path(path_type=Path))
@click.option(
    "-n",
    "--count",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many new cases to write.",
)
@click.option(
    "-p",
    "--provider",
    metavar="PROVIDER",
    help="The model that writes them [default: the embedded model].",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write the cases to this YAML tests file [default: standard output].",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Which existing cases are shown to the model.",
)
def generate_tests_command(
    suite: Path, count: int, provider: str | None, output: Path | None, seed: int
) -> None:
    """Write COUNT new test cases for SUITE (a suite file or its folder), as promptfoo's
    `generate dataset` does: the model sees the prompts and some cases, and cases that
    repeat an existing or new one (same text once normalised, or a near copy) are dropped.

    \b
      prompteur generate tests suite.yaml -n 20 -o more_tests.yaml
      # then, in the suite:  tests: [file://tests.yaml, file://more_tests.yaml]
    """
    from ..config._loader import find_suite, load_suite
    from ..eval._generate_tests import as_yaml, generate_tests

    path = find_suite(suite) if suite.is_dir() else suite
    loaded = load_suite(path)
    result = asyncio.run(generate_tests(loaded, count, provider, seed=seed))
    text = as_yaml(result.cases) if result.cases else "[]\n"
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    dropped = result.duplicates + result.near_duplicates + result.malformed
    click.echo(
        f"{len(result.cases)} new cases from {result.calls} calls; dropped {dropped} "
        f"(duplicates {result.duplicates}, near copies {result.near_duplicates}, "
        f"malformed {result.malformed})" + (f"; wrote {output}" if output else ""),
        err=True,
    )
