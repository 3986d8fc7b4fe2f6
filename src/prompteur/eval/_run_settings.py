"""The options of a run that its suite does not hold, kept with the run in the store, so
that resuming it or re-running its errored cells computes the way it began: a run begun
with ``--no-cache`` is not finished with answers from the cache."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["DEFAULT_RETRIES", "RunSettings"]

DEFAULT_RETRIES = 4


@dataclass(frozen=True)
class RunSettings:
    """Options given for a run; ``None`` means "not given" (the suite's, else the default).
    ``pass_threshold`` is the command's CI gate, kept so a resumed run is judged alike."""

    max_concurrency: int | None = None
    timeout: float | None = None
    max_retries: int | None = None
    no_cache: bool | None = None
    pass_threshold: float | None = None

    def over(self, saved: RunSettings) -> RunSettings:
        """These settings where given, the saved ones elsewhere: an option given again when
        a run is continued still applies."""
        return RunSettings(
            **{
                f.name: getattr(saved, f.name)
                if getattr(self, f.name) is None
                else getattr(self, f.name)
                for f in fields(self)
            }
        )

    def without(self, given: RunSettings) -> RunSettings:
        """These settings, less those ``given`` sets (what a continued run keeps of them)."""
        return RunSettings(
            **{
                f.name: None if getattr(given, f.name) is not None else getattr(self, f.name)
                for f in fields(self)
            }
        )

    def to_saved(self) -> dict[str, Any]:
        """What the run's options keep (under ``"cli"``, beside the suite's choices)."""
        return asdict(self)

    @classmethod
    def of_run(cls, options: Mapping[str, Any]) -> RunSettings:
        """The settings a run's stored options hold. Runs recorded before they were all kept
        still tell their retries (the runner's own options are stored beside them)."""
        kept = options.get("cli") or {}
        return cls(
            max_concurrency=kept.get("max_concurrency"),
            timeout=kept.get("timeout"),
            max_retries=kept.get("max_retries", options.get("max_retries")),
            no_cache=kept.get("no_cache"),
            pass_threshold=kept.get("pass_threshold"),
        )

    @property
    def retries(self) -> int:
        return DEFAULT_RETRIES if self.max_retries is None else self.max_retries

    def as_flags(self) -> str:
        """The command-line flags these settings stand for, where they differ from the
        defaults (``--no-cache --max-retries 0``)."""
        flags = []
        if self.no_cache:
            flags.append("--no-cache")
        if self.max_retries is not None and self.max_retries != DEFAULT_RETRIES:
            flags.append(f"--max-retries {self.max_retries}")
        if self.timeout is not None:
            flags.append(f"--timeout {self.timeout:g}")
        if self.max_concurrency is not None:
            flags.append(f"-j {self.max_concurrency}")
        if self.pass_threshold is not None:
            flags.append(f"--pass-threshold {self.pass_threshold:g}")
        return " ".join(flags)
