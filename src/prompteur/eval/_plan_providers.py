"""What planning settles about providers besides the suite's list: the providers tests
name for themselves, the prompts each provider runs, and whether each can take the
content (images, audio, files) the prompts send it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..config._models import ProviderSpec, _provider_item
from ..config._tests import ResolvedTest
from ..core._errors import Location, SuiteError, did_you_mean
from ..core._json import canonical
from ..prompts._template import PromptTemplate
from ..providers._base import Provider, ProviderContext
from ..providers._registry import create_provider

if TYPE_CHECKING:
    from ._plan import Plan

__all__ = ["TestProviders", "check_media", "chosen_prompts"]


class TestProviders:
    """The providers tests name (``provider:`` in a test), each made once however many
    tests name it."""

    __test__ = False  # not a pytest test class

    def __init__(self, base_dir: Path, env: Mapping[str, str]) -> None:
        self.base_dir = base_dir
        self.env = env
        self.providers: list[Provider] = []
        self._made: dict[str, int] = {}

    def index(self, test: ResolvedTest) -> int | None:
        """The place of the test's own provider in :attr:`providers`, None if it has none."""
        if test.provider is None:
            return None
        where = test.origin.location("provider") if test.origin else None
        try:
            spec = ProviderSpec.model_validate(_provider_item(test.provider))
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]
            key = ".".join(str(p) for p in problem["loc"])
            raise SuiteError(
                f"a test's provider must be an id or {{id, config, label}}: "
                f"{key + ': ' if key else ''}{problem['msg']}",
                where,
            ) from None
        key = canonical(spec.model_dump())
        found = self._made.get(key)
        if found is None:
            provider = create_provider(spec, ProviderContext(self.base_dir, self.env, where))
            found = self._made[key] = len(self.providers)
            self.providers.append(provider)
        return found


def chosen_prompts(
    entry: ProviderSpec | Provider, prompts: Sequence[PromptTemplate], where: Location | None
) -> tuple[int, ...] | None:
    """The prompts a provider's ``prompts`` names (by label or id; ``name`` also names the
    prompts ``name:1``, ``name:2``... of a file), None when it names none."""
    if not isinstance(entry, ProviderSpec) or entry.prompts is None:
        return None
    chosen: list[int] = []
    for name in entry.prompts:
        found = [
            i
            for i, p in enumerate(prompts)
            if name in (p.label, p.id) or p.label.startswith(f"{name}:")
        ]
        if not found:
            labels = [p.label for p in prompts]
            raise SuiteError(
                f"provider '{entry.label or entry.id}' runs prompt '{name}', which the suite "
                f"does not have{did_you_mean(name, labels)}; its prompts: {', '.join(labels)}",
                where,
            )
        chosen += [i for i in found if i not in chosen]
    return tuple(sorted(chosen))


def check_media(plan: Plan) -> None:
    """Refuse, at planning, a prompt with content parts (images, audio, files) on a
    provider that takes text only."""
    with_parts = [i for i, p in enumerate(plan.prompts) if p.has_content_parts]
    if not with_parts:
        return
    for index, provider in enumerate(plan.providers):
        runs = set(plan.prompts_of(index))
        if any(i in runs for i in with_parts) and not _accepts_media(provider):
            _refuse(plan, provider.id, with_parts[0])
    for provider in plan.test_providers:
        if not _accepts_media(provider):
            _refuse(plan, provider.id, with_parts[0])


def _accepts_media(provider: Any) -> bool:
    return bool(getattr(provider, "accepts_media", False))


def _refuse(plan: Plan, provider_id: str, prompt: int) -> None:
    template = plan.prompts[prompt]
    raise SuiteError(
        f"provider '{provider_id}' takes text only, and prompt '{template.label}' sends content "
        "parts (images, audio or files); run it on a provider that takes them (openai, "
        "azure, anthropic, google, vertex, bedrock)",
        template.origin,
    )
