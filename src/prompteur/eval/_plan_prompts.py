"""The suite's prompts, from files, inline text, or the registry (resolved to exact
versions when the run is planned)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..config._models import Suite
from ..errors import SuiteError
from ..prompts._files import load_prompt
from ..prompts._template import PromptTemplate

if TYPE_CHECKING:
    from ..prompts._registry import PromptRegistry

__all__ = ["load_prompts"]


def _registered(
    suite: Suite, registry: PromptRegistry | None, pins: Mapping[str, str]
) -> dict[int, PromptTemplate]:
    """The suite's registered prompts (``prompt: name@ref``) by position, resolved now: a
    run records the exact versions it used, whatever the labels point at later. ``pins``
    maps references to the versions an earlier run resolved them to (a resumed run uses
    those, even if a label has moved since)."""
    from ..prompts._registry import PromptRegistry, RegistryError

    wanted = [(i, spec) for i, spec in enumerate(suite.prompts) if spec.prompt is not None]
    if not wanted:
        return {}
    origin = suite.origin
    registry = registry or PromptRegistry.open()
    versions = {}
    for position, spec in wanted:
        assert spec.prompt is not None
        try:
            versions[position] = registry.get(pins.get(spec.prompt, spec.prompt))
        except RegistryError as exc:
            where = origin.location("prompts", position) if origin else None
            raise SuiteError(str(exc), where) from None
    names = [v.name for v in versions.values()]
    refs = [v.ref for v in versions.values()]
    templates = {}
    for position, version in versions.items():
        spec = suite.prompts[position]
        assert spec.prompt is not None
        where = origin.location("prompts", position) if origin else None
        # Several versions of one prompt side by side are told apart by their versions;
        # two references that resolve to one version (a label just moved onto the latest)
        # by the references as written.
        ident = spec.label or version.name
        if names.count(version.name) > 1:
            ident = spec.label or (version.ref if refs.count(version.ref) == 1 else spec.prompt)
        templates[position] = version.template(id=ident, label=spec.label, origin=where)
    return templates


def load_prompts(
    suite: Suite, registry: PromptRegistry | None = None, pins: Mapping[str, str] | None = None
) -> list[PromptTemplate]:
    origin = suite.origin
    prompts: list[PromptTemplate] = []
    seen: dict[str, int] = {}
    registered = _registered(suite, registry, pins or {})
    for position, spec in enumerate(suite.prompts):
        where = origin.location("prompts", position) if origin else None
        found = registered.get(position)
        for prompt in (
            [found]
            if found is not None
            else load_prompt(
                file_ref=spec.id,
                raw=spec.raw,
                label=spec.label,
                base_dir=suite.base_dir,
                origin=where,
            )
        ):
            if prompt.id in seen:
                raise SuiteError(
                    f"two prompts share the label '{prompt.id}'; give them distinct labels", where
                )
            seen[prompt.id] = len(prompts)
            prompts.append(prompt)
    if not prompts:
        raise SuiteError("the suite has no prompts", origin.location() if origin else None)
    return prompts
