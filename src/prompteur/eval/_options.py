"""The options of a run (:class:`EvalOptions`), the one type that ``evaluate`` and the
``eval`` command take: layered over a suite's ``evaluateOptions``, and kept with the run in
the store, so that resuming it or re-running its errored cells computes the way it began
(a run begun without the cache is not finished with answers from the cache)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..config._models import Suite
from ..providers._retry import DEFAULT_CONCURRENCY, DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, RunOptions

__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_RETRIES", "DEFAULT_TIMEOUT_S", "EvalOptions"]

# what a run keeps of its options (under "cli" in its stored options, beside the suite's)
_KEPT = ("max_concurrency", "timeout", "max_retries", "no_cache", "pass_threshold")


@dataclass(frozen=True)
class EvalOptions:
    """Settings of a run. ``None`` means "not given": the suite's ``evaluateOptions`` apply,
    then the defaults (4 concurrent calls per provider, 300 s per call, 4 retries, the
    cache on). ``pass_threshold`` is the ``eval`` command's CI gate, kept with the run so
    that a resumed run is judged alike."""

    max_concurrency: int | None = None
    repeat: int | None = None
    timeout: float | None = None
    max_retries: int | None = None
    retry_base_delay: float = 0.5
    retry_max_delay: float = 30.0
    delay: float | None = None
    max_failures_kept: int = 50
    no_cache: bool | None = None
    pass_threshold: float | None = None

    def __post_init__(self) -> None:
        # NaN passes every comparison's "not": each number is checked to be finite first
        for name, low, open_low in (
            ("timeout", 0.0, True),
            ("delay", 0.0, False),
            ("retry_base_delay", 0.0, False),
            ("retry_max_delay", 0.0, False),
            ("pass_threshold", 0.0, False),
        ):
            value = getattr(self, name)
            if value is None:
                continue
            if not math.isfinite(value) or value < low or (open_low and value == low):
                bound = "above" if open_low else "at least"
                raise ValueError(f"EvalOptions.{name} must be a finite number {bound} {low:g}")

    @property
    def retries(self) -> int:
        return DEFAULT_RETRIES if self.max_retries is None else self.max_retries

    def resolve(self, suite: Suite | None) -> RunOptions:
        """These options over the suite's ``evaluateOptions`` over the defaults."""
        suite_options = suite.evaluate_options if suite is not None else None
        concurrency = self.max_concurrency or (
            suite_options.max_concurrency if suite_options else None
        )
        timeout = self.timeout
        if timeout is None and suite_options is not None and suite_options.timeout_ms:
            timeout = suite_options.timeout_ms / 1000
        delay = self.delay
        if delay is None and suite_options is not None and suite_options.delay:
            delay = suite_options.delay / 1000
        return RunOptions(
            max_concurrency=concurrency or DEFAULT_CONCURRENCY,
            timeout=timeout or DEFAULT_TIMEOUT_S,
            max_retries=self.retries,
            retry_base_delay=self.retry_base_delay,
            retry_max_delay=self.retry_max_delay,
            delay=delay or 0.0,
            max_failures_kept=self.max_failures_kept,
        )

    def over(self, saved: EvalOptions) -> EvalOptions:
        """These options where given, the saved ones elsewhere: an option given again when
        a run is continued still applies."""
        kept: dict[str, Any] = {
            name: getattr(saved, name) for name in (*_KEPT, "repeat") if getattr(self, name) is None
        }
        return replace(self, **kept)

    def without(self, given: EvalOptions) -> EvalOptions:
        """These options, less those ``given`` sets (what a continued run keeps of them)."""
        dropped: dict[str, Any] = {
            name: None for name in (*_KEPT, "repeat") if getattr(given, name) is not None
        }
        return replace(self, **dropped)

    def to_saved(self) -> dict[str, Any]:
        """What the run's stored options keep of these (under ``"cli"``)."""
        saved: dict[str, Any] = {name: getattr(self, name) for name in _KEPT}
        saved.update(max_retries=self.retries, no_cache=bool(self.no_cache))
        return saved

    @classmethod
    def of_run(cls, options: Mapping[str, Any]) -> EvalOptions:
        """The options a run's stored options hold. Runs recorded before they were all kept
        still tell their retries (the runner's own options are stored beside them)."""
        kept = options.get("cli") or {}
        return cls(
            max_concurrency=kept.get("max_concurrency"),
            repeat=kept.get("repeat"),
            timeout=kept.get("timeout"),
            max_retries=kept.get("max_retries", options.get("max_retries")),
            no_cache=kept.get("no_cache"),
            pass_threshold=kept.get("pass_threshold"),
        )

    def as_flags(self) -> str:
        """The command-line flags these options stand for, where they differ from the
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
