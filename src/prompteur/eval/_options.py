"""The settings of a library run (:class:`EvalOptions`), layered over a suite's own."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config._models import Suite
from ..providers._retry import RunOptions
from ._run_settings import DEFAULT_RETRIES

__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_TIMEOUT_S", "EvalOptions", "run_options"]

DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class EvalOptions:
    """Settings of a run. ``None`` means "not given": the suite's ``evaluateOptions`` apply,
    then the defaults (4 concurrent calls per provider, 300 s per call, 4 retries)."""

    max_concurrency: int | None = None
    repeat: int | None = None
    timeout: float | None = None
    max_retries: int = DEFAULT_RETRIES
    retry_base_delay: float = 0.5
    retry_max_delay: float = 30.0
    delay: float | None = None
    max_failures_kept: int = 50

    def __post_init__(self) -> None:
        # NaN passes every comparison's "not": each number is checked to be finite first
        for name, low, open_low in (
            ("timeout", 0.0, True),
            ("delay", 0.0, False),
            ("retry_base_delay", 0.0, False),
            ("retry_max_delay", 0.0, False),
        ):
            value = getattr(self, name)
            if value is None:
                continue
            if not math.isfinite(value) or value < low or (open_low and value == low):
                bound = "above" if open_low else "at least"
                raise ValueError(f"EvalOptions.{name} must be a finite number {bound} {low:g}")


def run_options(options: EvalOptions, suite: Suite | None) -> RunOptions:
    """Layer the caller's options over the suite's ``evaluateOptions`` over the defaults."""
    suite_options = suite.evaluate_options if suite is not None else None
    concurrency = options.max_concurrency or (
        suite_options.max_concurrency if suite_options else None
    )
    timeout = options.timeout
    if timeout is None and suite_options is not None and suite_options.timeout_ms:
        timeout = suite_options.timeout_ms / 1000
    delay = options.delay
    if delay is None and suite_options is not None and suite_options.delay:
        delay = suite_options.delay / 1000
    return RunOptions(
        max_concurrency=concurrency or DEFAULT_CONCURRENCY,
        timeout=timeout or DEFAULT_TIMEOUT_S,
        max_retries=options.max_retries,
        retry_base_delay=options.retry_base_delay,
        retry_max_delay=options.retry_max_delay,
        delay=delay or 0.0,
        max_failures_kept=options.max_failures_kept,
    )
