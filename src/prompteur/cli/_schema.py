"""``prompteur schema``: the JSON Schema of suite files, for editor completion."""

from __future__ import annotations

import click


@click.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of suite files.

    \b
    Point your editor at it, e.g. with the YAML language server:
      prompteur schema > prompteur.schema.json
      # yaml-language-server: $schema=./prompteur.schema.json
    """
    import json

    from ..assertions._registry import assertion_types
    from ..config._schema import suite_json_schema

    schema = suite_json_schema(assertion_types())
    click.echo(json.dumps(schema, indent=2))
