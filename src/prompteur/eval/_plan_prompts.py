"""The suite's prompts, from files, inline text, or the registry (resolved to exact
versions when the run is planned), and their renderings for the suite's tests."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jinja2

from ..config._models import Suite
from ..core._errors import SuiteError, TemplateError
from ..prompts._files import load_prompt
from ..prompts._template import Message, PromptTemplate

if TYPE_CHECKING:
    from ..store._registry import PromptRegistry
    from ._plan import PlannedTest

__all__ = [
    "RENDER_CACHE_CHARS",
    "AffixedPrompts",
    "check_renders",
    "load_prompts",
    "load_prompts_with_configs",
]

_LOG = logging.getLogger("prompteur.suite")
# inline text that reads as a registered prompt's reference: support-answer@production
_LOOKS_REGISTERED = re.compile(r"[A-Za-z0-9][\w.-]*@[\w.-]+")


def _registered(
    suite: Suite, registry: PromptRegistry | None, pins: Mapping[str, str]
) -> dict[int, PromptTemplate]:
    """The suite's registered prompts (``prompt: name@ref``) by position, resolved now: a
    run records the exact versions it used, whatever the labels point at later. ``pins``
    maps references to the versions an earlier run resolved them to (a resumed run uses
    those, even if a label has moved since)."""
    wanted = [(i, spec) for i, spec in enumerate(suite.prompts) if spec.prompt is not None]
    if not wanted:
        return {}
    # the registry's modules (10 ms) are imported for suites that name registered prompts
    from ..store._registry import PromptRegistry, RegistryError

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
    return [prompt for prompt, _ in load_prompts_with_configs(suite, registry, pins)]


def load_prompts_with_configs(
    suite: Suite, registry: PromptRegistry | None = None, pins: Mapping[str, str] | None = None
) -> list[tuple[PromptTemplate, Mapping[str, Any] | None]]:
    """The suite's prompts, each with its ``config`` (provider settings for its calls)."""
    origin = suite.origin
    prompts: list[tuple[PromptTemplate, Mapping[str, Any] | None]] = []
    seen: dict[str, int] = {}
    registered = _registered(suite, registry, pins or {})
    for position, spec in enumerate(suite.prompts):
        where = origin.location("prompts", position) if origin else None
        if spec.raw is not None and _LOOKS_REGISTERED.fullmatch(spec.raw.strip()):
            _LOG.warning(
                "warning: %sthe prompt '%s' is sent as this very text; to run the registered "
                "prompt, write '- prompt: %s'",
                f"{where}: " if where else "",
                spec.raw.strip(),
                spec.raw.strip(),
            )
        _refuse_remote(spec.raw or spec.id or "", where)
        file_ref, raw = spec.id, spec.raw
        if file_ref is not None and _is_text_not_path(file_ref, suite):
            file_ref, raw = None, file_ref  # promptfoo's {id: <prompt text>, label}
        found = registered.get(position)
        for prompt in (
            [found]
            if found is not None
            else load_prompt(
                file_ref=file_ref,
                raw=raw,
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
            prompts.append((prompt, spec.config or None))
    if not prompts:
        raise SuiteError("the suite has no prompts", origin.location() if origin else None)
    return prompts


_REMOTE = ("portkey://", "langfuse://", "helicone://")


def _refuse_remote(text: str, where: object) -> None:
    """Prompts kept by another service: sending their reference as text would be wrong."""
    scheme = next((s for s in _REMOTE if text.strip().startswith(s)), None)
    if scheme is not None:
        raise SuiteError(
            f"{scheme} prompt references are not supported: put the prompt's text in a "
            "file (file://prompt.txt) or in prompteur's registry (prompt: name@label)",
            where,  # type: ignore[arg-type]
        )


def _is_text_not_path(ref: str, suite: Suite) -> bool:
    """An ``id`` that is neither file:// nor an existing file is the prompt's text."""
    if ref.startswith("file://"):
        return False
    if "\n" in ref or "{{" in ref:
        return True
    try:
        return not (suite.base_dir / ref).exists()
    except OSError:  # a name too long for a path is text
        return True


class AffixedPrompts:
    """The suite's prompts as a test sends them: with its ``options.prefix`` and
    ``options.suffix``, compiled once for each distinct pair."""

    def __init__(self, prompts: Sequence[PromptTemplate]) -> None:
        self.prompts = prompts
        self._made: dict[tuple[int, str, str], PromptTemplate] = {}

    def template(self, position: int, test: PlannedTest) -> PromptTemplate:
        prompt = self.prompts[position]
        if not test.prefix and not test.suffix:
            return prompt
        key = (position, test.prefix, test.suffix)
        found = self._made.get(key)
        if found is None:
            try:
                found = prompt.with_affixes(test.prefix, test.suffix)
            except TemplateError as exc:  # the prefix or suffix does not parse
                raise TemplateError(
                    f"prompt '{prompt.label}' with the test's prefix and suffix: {exc.message}",
                    test.location,
                ) from None
            self._made[key] = found
        return found


# Rendered prompts are kept for the run up to this many characters; beyond, cells render
# again as they run (memory stays bounded for very large suites).
RENDER_CACHE_CHARS = 32_000_000


def check_renders(
    prompts: AffixedPrompts, tests: Sequence[PlannedTest]
) -> dict[tuple[int, int], tuple[Message, ...]]:
    """Render every prompt for every test once, so template errors stop the run up front;
    returns the renderings, by (prompt, test), while they fit in RENDER_CACHE_CHARS."""
    rendered: dict[tuple[int, int], tuple[Message, ...]] = {}
    budget = RENDER_CACHE_CHARS
    for test in tests:
        for position in range(len(prompts.prompts)):
            prompt = prompts.template(position, test)
            try:
                messages = prompt.render(test.vars)
            except jinja2.UndefinedError as exc:
                raise TemplateError(
                    f"prompt '{prompt.label}': {_undefined_message(exc)} in test '{test.label}'",
                    test.location or prompt.origin,
                ) from None
            except (jinja2.TemplateError, TypeError, ValueError) as exc:
                raise TemplateError(
                    f"prompt '{prompt.label}' does not render for test '{test.label}': {exc}",
                    test.location or prompt.origin,
                ) from None
            if budget > 0:
                budget -= sum(
                    len(m.content) if isinstance(m.content, str) else len(str(m.content))
                    for m in messages
                )
                rendered[(position, test.index)] = messages
    return rendered


def _undefined_message(exc: jinja2.UndefinedError) -> str:
    text = str(exc.message or exc)
    if text.endswith(" is undefined") and text.startswith("'"):
        return f"undefined variable {text.removesuffix(' is undefined')}"
    return text
