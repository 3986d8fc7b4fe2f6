"""promptfoo's ``redteam:`` section (purpose, plugins, strategies, numTests, language,
injectVar) read into our settings: its plugin and strategy names mapped onto ours where
they correspond, one note per name that has no equivalent here. Options given on the
command line win over the section."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..core._errors import PrompteurError
from ._plugins import ALL_PLUGINS, DEFAULT_PLUGINS, EXTRA_MAKERS
from ._redteam import RedteamSettings
from ._strategies import ALL_STRATEGIES

__all__ = ["RedteamSection", "apply_section", "read_section"]

#: promptfoo plugin → our plugin (names of ours are taken as they are)
_PLUGINS = {
    "prompt-extraction": "extraction",
    "pii": "pii",
    "pii:direct": "pii",
    "pii:session": "pii",
    "pii:social": "pii",
    "pii:api-db": "pii",
    "indirect-prompt-injection": "indirect-injection",
    "hijacking": "injection",
    "system-prompt-override": "injection",
    "harmful": "harmful",
    # insults and hate are what our offensive-language plugin draws out
    "harmful:profanity": "offensive",
    "harmful:insults": "offensive",
    "harmful:hate": "offensive",
    "harmful:harassment-bullying": "offensive",
}
#: promptfoo strategies that are plugins here (the attack itself, not a dressing)
_STRATEGY_PLUGINS = {
    "prompt-injection": "injection",
    "jailbreak": "jailbreak",
    "jailbreak:composite": "jailbreak",
    "jailbreak:tree": "jailbreak",
    "jailbreak:likert": "jailbreak",
    "jailbreak:meta": "jailbreak",
}
_STRATEGIES = {
    "homoglyph": "homoglyphs",
    "multilingual": "french",
    "crescendo": "multi-turn",
    "goat": "multi-turn",
}
_LANGUAGES = {"en": "en", "english": "en", "fr": "fr", "french": "fr", "français": "fr"}
_READ = {"purpose", "plugins", "strategies", "numTests", "language", "injectVar"}


@dataclass(frozen=True)
class RedteamSection:
    """What a promptfoo ``redteam:`` section asks for, in our names."""

    plugins: tuple[str, ...] = ()
    plugin_attempts: tuple[tuple[str, int], ...] = ()
    strategies: tuple[str, ...] = ()
    attempts: int | None = None
    languages: tuple[str, ...] = ()
    purpose: str | None = None
    input_var: str | None = None
    notes: tuple[str, ...] = ()


def _items(section: Mapping[str, Any], key: str) -> list[tuple[str, Mapping[str, Any]]]:
    """``[name | {id, ...}]`` as (name, options) pairs."""
    value = section.get(key) or []
    if not isinstance(value, list):
        raise PrompteurError(f"redteam.{key} must be a list of names or {{id: ...}} items")
    found: list[tuple[str, Mapping[str, Any]]] = []
    for item in value:
        if isinstance(item, str):
            found.append((item, {}))
        elif isinstance(item, dict) and isinstance(item.get("id"), str):
            found.append((item["id"], item))
        else:
            raise PrompteurError(f"redteam.{key}: each item is a name or has an 'id' ({item!r})")
    return found


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PrompteurError(f"{where} must be a whole number of at least 1 (got {value!r})")
    return value


def _plugin(name: str) -> str | None:
    if name in ALL_PLUGINS or name in EXTRA_MAKERS:
        return name
    if name.startswith("harmful:"):
        return _PLUGINS.get(name, "harmful")
    return _PLUGINS.get(name)


def read_section(section: Mapping[str, Any]) -> RedteamSection:
    """Our plugins, strategies and counts for a promptfoo ``redteam:`` section."""
    notes: list[str] = []
    plugins: dict[str, int | None] = {}  # ours → its own numTests (the largest asked)

    def add(ours: str, count: int | None) -> None:
        before = plugins.get(ours)
        plugins[ours] = max(before, count) if before and count else before or count

    for name, options in _items(section, "plugins"):
        count = options.get("numTests")
        count = _count(count, f"numTests of plugin '{name}'") if count is not None else None
        if name == "default":
            for ours in DEFAULT_PLUGINS:
                add(ours, count)
        elif (mapped := _plugin(name)) is not None:
            add(mapped, count)
        else:
            notes.append(f"plugin '{name}' is not run: no equivalent here")
    if not section.get("plugins"):  # promptfoo's default set, ours here
        for ours in DEFAULT_PLUGINS:
            add(ours, None)
    strategies: list[str] = []
    for name, _ in _items(section, "strategies"):
        if name in _STRATEGY_PLUGINS:
            add(_STRATEGY_PLUGINS[name], None)
        elif name in ALL_STRATEGIES or name in _STRATEGIES:
            strategy = _STRATEGIES.get(name, name)
            if strategy not in strategies:
                strategies.append(strategy)
            if name == "multilingual":
                notes.append("strategy 'multilingual' runs in French only")
        elif name != "basic":  # the plain attacks always run
            notes.append(f"strategy '{name}' is not run: no equivalent here")
    languages: list[str] = []
    given = section.get("language")
    for language in [given] if isinstance(given, str) else list(given or []):
        code = _LANGUAGES.get(str(language).strip().lower())
        if code is None:
            notes.append(f"language '{language}' is not run: attacks are in English and French")
        elif code not in languages:
            languages.append(code)
    ignored = sorted(set(section) - _READ)
    if ignored:
        notes.append(
            f"redteam keys ignored: {', '.join(ignored)} (attacks here are our own, "
            "not generated by a model)"
        )
    attempts = section.get("numTests")
    purpose = section.get("purpose")
    input_var = section.get("injectVar")
    return RedteamSection(
        plugins=tuple(plugins),
        plugin_attempts=tuple((p, n) for p, n in plugins.items() if n is not None),
        strategies=tuple(strategies),
        attempts=_count(attempts, "redteam.numTests") if attempts is not None else None,
        languages=tuple(languages),
        purpose=str(purpose).strip() or None if purpose is not None else None,
        input_var=str(input_var) if input_var is not None else None,
        notes=tuple(notes),
    )


def apply_section(
    settings: RedteamSettings, section: RedteamSection, given: Collection[str]
) -> RedteamSettings:
    """``settings`` with what the section asks for, except what the command line gave
    (``given``: the settings' field names set there). ``-n`` replaces every numTests."""
    changes: dict[str, Any] = {"purpose": section.purpose}
    if "plugins" not in given:
        if not section.plugins:
            raise PrompteurError(
                "none of the config's red-team plugins has an equivalent here: name ours "
                f"with --plugins ({', '.join(ALL_PLUGINS)})"
            )
        changes["plugins"] = section.plugins
    if "attempts" not in given:
        if section.attempts is not None:
            changes["attempts"] = section.attempts
        changes["plugin_attempts"] = section.plugin_attempts
    if "strategies" not in given and section.strategies:
        changes["strategies"] = section.strategies
    if "languages" not in given and section.languages:
        changes["languages"] = section.languages
    if "input_var" not in given and section.input_var is not None:
        changes["input_var"] = section.input_var
    return replace(settings, **changes)
