"""``prompteur init``: a starter suite that runs on the embedded model."""

from __future__ import annotations

from pathlib import Path

import click

STARTER_SUITE = """\
# A prompteur suite (promptfoo's format). Run it with:  prompteur eval
# Editor completion:  prompteur schema > prompteur.schema.json
description: Capital cities, answered in one word

prompts:
  - "What is the capital of {{country}}? Answer with the city name only."
  - |
    system: You are a geography teacher. Answer with one word.
    user: Capital of {{country}}?

providers:
  - local          # the embedded model, offline; try openai:chat:gpt-4o-mini

defaultTest:
  assert:
    - type: word-count
      value: {max: 12}

tests:
  - vars: {country: France}
    assert:
      - type: icontains
        value: Paris
  - vars: {country: Japan}
    assert:
      - type: icontains
        value: Tokyo
  - vars: {country: Italy}
    assert:
      - type: icontains
        value: Rome
  - vars: {country: Germany}
    assert:
      - type: icontains
        value: Berlin
"""


@click.command("init")
@click.argument(
    "directory", required=False, type=click.Path(file_okay=False, path_type=Path), default=Path(".")
)
@click.option("--force", is_flag=True, help="Overwrite an existing prompteur.yaml.")
def init_command(directory: Path, force: bool) -> None:
    """Write a starter suite, prompteur.yaml, into DIRECTORY (default: here)."""
    target = directory / "prompteur.yaml"
    if target.exists() and not force:
        raise click.UsageError(f"{target} already exists (use --force to overwrite it)")
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(STARTER_SUITE, encoding="utf-8")
    where = "" if directory == Path(".") else f" {directory}"
    click.echo(f"wrote {target}\nrun it with: prompteur eval{where}")
