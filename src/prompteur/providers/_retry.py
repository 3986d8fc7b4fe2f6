"""Calling a provider within a run's bounds: a timeout per call, and retries with
exponential backoff and jitter that honour Retry-After, for the faults worth retrying."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass

from ..core._errors import PermanentProviderError, TransientProviderError
from ..core._interrupts import describe_exception, stops_the_run
from ._base import Completion, CompletionRequest, Provider

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT_S",
    "CallOutcome",
    "RunOptions",
    "backoff_delay",
    "call_with_retries",
    "longest_wait",
    "new_run_id",
]

DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_RETRIES = 4


@dataclass(frozen=True)
class RunOptions:
    """The bounds a run's calls keep, every option settled (the caller's ``EvalOptions``
    over the suite's ``evaluateOptions`` over these defaults). Times are in seconds."""

    max_concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_RETRIES
    retry_base_delay: float = 0.5
    retry_max_delay: float = 30.0
    max_retry_after: float = 60.0
    delay: float = 0.0
    max_failures_kept: int = 50


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def longest_wait(options: RunOptions) -> float:
    """The most one retry may wait: never past a call's timeout, nor ``max_retry_after``."""
    return min(options.max_retry_after, options.timeout)


def backoff_delay(attempt: int, retry_after: float | None, options: RunOptions) -> float:
    """Seconds to wait before retry number ``attempt + 1``: the server's Retry-After when it
    gave one, else exponential backoff with equal jitter; at most ``longest_wait``."""
    if retry_after is not None:
        return min(retry_after, longest_wait(options))
    ceiling: float = min(
        options.retry_max_delay, options.timeout, options.retry_base_delay * 2.0**attempt
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    completion: Completion | None
    error: str | None
    attempts: int
    latency_ms: float | None


async def call_with_retries(
    provider: Provider, request: CompletionRequest, options: RunOptions
) -> CallOutcome:
    """Call the provider until it answers, a permanent error occurs, or retries run out."""
    reason = "no attempt made"
    attempts = 0
    for attempt in range(options.max_retries + 1):
        attempts = attempt + 1
        retry_after: float | None = None
        started = time.perf_counter()
        try:
            async with asyncio.timeout(options.timeout):
                completion = await provider.complete(request)
            return CallOutcome(completion, None, attempts, (time.perf_counter() - started) * 1000)
        except TimeoutError:
            reason = f"timed out after {options.timeout:g} s"
        except TransientProviderError as exc:
            reason, retry_after = str(exc), exc.retry_after
        except PermanentProviderError as exc:
            return CallOutcome(None, str(exc), attempts, None)
        except (ConnectionError, OSError) as exc:
            reason = f"connection failed: {exc}"
        except BaseException as exc:
            # a provider's own bug, or its sys.exit(), is recorded, never fatal to the run;
            # only a real Ctrl-C or the run's cancellation stops it
            if stops_the_run(exc):
                raise
            return CallOutcome(None, describe_exception(exc), attempts, None)
        if attempt < options.max_retries:
            if retry_after is not None and retry_after > longest_wait(options):
                # asked to come back later than the run may wait: retrying sooner is futile
                return CallOutcome(None, _too_long(reason, retry_after, options), attempts, None)
            await asyncio.sleep(backoff_delay(attempt, retry_after, options))
    suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
    return CallOutcome(None, reason + suffix, attempts, None)


def _too_long(reason: str, retry_after: float, options: RunOptions) -> str:
    limit = longest_wait(options)
    return f"{reason} (asked to retry after {retry_after:g} s; a retry waits at most {limit:g} s)"
