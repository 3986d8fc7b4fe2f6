"""What a team server and ``prompteur --server`` send each other: runs, cells, prompt
versions and planned runs as JSON (see ``_remote.py`` and ``web/_sync_routes.py``)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core._results import CellResult, HumanVerdict
from ..core._secrets import known_secrets, redact, secret_values
from ..providers._base import provider_identity
from ._records import RunInfo
from ._registry_records import PromptVersion
from ._registry_source import PromptSource
from ._rows import assertion_from_json, suite_row

if TYPE_CHECKING:
    from ._planned import PlannedRun

__all__ = [
    "cell_from_wire",
    "cell_to_wire",
    "plan_to_wire",
    "run_from_wire",
    "run_to_wire",
    "version_from_wire",
]


def run_to_wire(info: RunInfo) -> dict[str, Any]:
    return dataclasses.asdict(info)


def run_from_wire(data: Mapping[str, Any]) -> RunInfo:
    # what a newer server adds is left out rather than refused
    known = {f.name for f in dataclasses.fields(RunInfo)}
    fields = {k: v for k, v in data.items() if k in known}
    fields["prompts"] = [tuple(p) for p in data.get("prompts", [])]
    fields["providers"] = [tuple(p) for p in data.get("providers", [])]
    fields["registered"] = [tuple(r) if r else None for r in data.get("registered", [])]
    return RunInfo(**fields)


def cell_to_wire(result: CellResult) -> dict[str, Any]:
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}


def cell_from_wire(data: Mapping[str, Any]) -> CellResult:
    fields = dict(data)
    fields["assertions"] = tuple(assertion_from_json(a) for a in data.get("assertions") or ())
    human = data.get("human")
    fields["human"] = HumanVerdict(**human) if human else None
    return CellResult(**fields)


def version_from_wire(data: Mapping[str, Any]) -> PromptVersion:
    fields = dict(data)
    fields["source"] = PromptSource(**data["source"])
    fields["labels"] = tuple(data.get("labels", ()))
    return PromptVersion(**fields)


def plan_to_wire(plan: PlannedRun, suite_path: str | None) -> dict[str, Any]:
    """What the server records of a planned run, without its secrets: they are redacted
    here, where the environment that holds them is known."""
    now = time.time()
    tests = []
    for test in plan.tests:
        known = known_secrets(secret_values(test.vars) | secret_values(test.metadata))
        tests.append(
            {
                "key": test.key,
                "description": redact(test.description, known),
                "vars": redact(test.vars, known),
                "metadata": redact(test.metadata, known),
            }
        )
    return {
        "description": redact(plan.description),
        "prompts": [
            {
                "id": redact(p.id),
                "label": redact(p.label),
                "raw": redact(p.raw),
                "chat": p.chat,
                "registry": list(p.registry) if p.registry else None,
            }
            for p in plan.prompts
        ],
        "providers": [
            {"id": p.id, "identity": redact(dict(provider_identity(p)))} for p in plan.providers
        ],
        "provider_labels": [redact(label) for label in plan.provider_labels],
        "tests": tests,
        "suite": suite_row(plan, suite_path, now),
        "total_cells": plan.total_cells,
        "fingerprint": plan.fingerprint(),
    }
