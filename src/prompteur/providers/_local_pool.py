"""The parent's side of the embedded model's worker processes.

A :class:`WorkerPool` runs one model file in ``workers`` processes (``_local_worker.py``)
and hands them requests oldest first, each to the process whose KV cache already holds the
longest part of its prompt where there is a choice (``_local_affinity.py``). Each process
serves one request at a time; a process that dies (a crash in llama.cpp, a signal, the
out-of-memory killer) fails only the request it was serving, with the cause in one line,
and is started again for the next one. A model that keeps crashing is given up on after a
few deaths in a row, so a broken build costs a few cells, not the whole run's time.

Requests go through threads and ``concurrent.futures`` futures, so a pool does not belong
to one event loop: the sync ``evaluate`` may run several loops in one process.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import contextlib
import itertools
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from ..core._errors import PermanentProviderError
from ._local_affinity import WINDOW, Affinity, prompt_key

__all__ = [
    "ModelLoadError",
    "ModelSettings",
    "PoolStats",
    "WorkerDied",
    "WorkerPool",
    "describe_exit",
    "generate",
    "pool_for",
]

WORKER_SCRIPT = Path(__file__).with_name("_local_worker.py")
#: deaths in a row (with no answer between them) after which the pool gives up
MAX_DEATHS_IN_A_ROW = 3
#: how long a cancelled generation may take to stop before its process is killed
CANCEL_GRACE_S = 10.0
#: how long loading the model may take
START_TIMEOUT_S = 120.0


class ModelLoadError(PermanentProviderError):
    """The worker started but llama.cpp could not load the model file."""


class WorkerDied(PermanentProviderError):
    """The model's process ended while it was loading the model or serving a request;
    ``cause`` says how (its signal or exit code, and its last message)."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True, slots=True)
class ModelSettings:
    path: Path
    n_ctx: int
    n_threads: int
    workers: int


def describe_exit(code: int | None, stderr_tail: str) -> str:
    """Why a process ended, in a few words: its signal or exit code, and its last message."""
    if code is None:
        cause = "it stopped answering"
    elif code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        meaning = {
            "SIGSEGV": "a segmentation fault",
            "SIGILL": "an illegal instruction",
            "SIGBUS": "a bus error",
            "SIGABRT": "an abort",
            "SIGKILL": "killed, perhaps for lack of memory",
            "SIGFPE": "an arithmetic fault",
        }.get(name)
        cause = f"{name}, {meaning}" if meaning else name
    else:
        cause = f"exit code {code}"
    return f"{cause}: {stderr_tail}" if stderr_tail else cause


@dataclass
class PoolStats:
    """What a pool's processes did: requests served by each, prompt tokens they kept from
    their cache of the previous prompt (``reused``) and evaluated anew."""

    served: list[int]
    reused: int = 0
    evaluated: int = 0


@dataclass
class _Request:
    message: dict[str, Any]
    key: str = ""
    future: concurrent.futures.Future[dict[str, Any]] = field(
        default_factory=concurrent.futures.Future
    )
    cancelled_at: float | None = None
    process: _Process | None = None


_DEATH = object()


def _settle(
    future: concurrent.futures.Future[dict[str, Any]],
    result: dict[str, Any] | None = None,
    error: BaseException | None = None,
) -> None:
    """Give a request its outcome, unless its caller has given up on it already."""
    try:
        if error is not None:
            future.set_exception(error)
        elif result is not None:
            future.set_result(result)
        else:
            future.cancel()
    except concurrent.futures.InvalidStateError:
        pass


class _Process:
    """One worker process: its pipes, the thread reading its answers, the end of its stderr."""

    def __init__(self, settings: ModelSettings) -> None:
        config = {
            "path": str(settings.path),
            "n_ctx": settings.n_ctx,
            "n_threads": settings.n_threads,
        }
        # -P: the worker's folder is not put on sys.path (its modules' names are private)
        self.popen = subprocess.Popen(
            [sys.executable, "-P", str(WORKER_SCRIPT), orjson.dumps(config).decode()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C for prompteur is prompteur's to handle
        )
        self.replies: queue.Queue[Any] = queue.Queue()
        self.stderr: collections.deque[str] = collections.deque(maxlen=8)
        self.write_lock = threading.Lock()
        assert self.popen.stdout is not None and self.popen.stderr is not None
        threading.Thread(target=self._read_replies, args=(self.popen.stdout,), daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(self.popen.stderr,), daemon=True).start()

    def _read_replies(self, stream: IO[bytes]) -> None:
        with stream:
            for line in stream:
                try:
                    self.replies.put(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue
        self.replies.put(_DEATH)

    def _read_stderr(self, stream: IO[bytes]) -> None:
        with stream:
            for line in stream:
                text = line.decode("utf-8", "replace").strip()
                if text:
                    self.stderr.append(text)

    def send(self, message: dict[str, Any]) -> bool:
        """Write one request; False if the process is gone."""
        assert self.popen.stdin is not None
        try:
            with self.write_lock:
                self.popen.stdin.write(orjson.dumps(message) + b"\n")
                self.popen.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return False
        return True

    def death(self) -> str:
        """Wait for the process to end (killing it if it hangs) and say why it did."""
        try:
            code = self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.popen.wait()
        self._close_stdin()
        time.sleep(0.05)  # the stderr thread's last lines
        tail = self.stderr[-1] if self.stderr else ""
        return describe_exit(code, tail[:300])

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.popen.kill()

    def _close_stdin(self) -> None:
        with contextlib.suppress(OSError), self.write_lock:
            if self.popen.stdin is not None:
                self.popen.stdin.close()

    def close(self) -> None:
        """Ask the process to end (its stdin closes) and make sure it does."""
        self._close_stdin()
        try:
            self.popen.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            self.popen.wait()


class WorkerPool:
    """``settings.workers`` processes serving one model, requests in order of arrival."""

    def __init__(self, settings: ModelSettings) -> None:
        self.settings = settings
        self.pending: collections.deque[_Request] = collections.deque()
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)  # a request came, or a worker got busy
        self.affinity = Affinity(settings.workers)
        self.idle = set(range(settings.workers))
        self.stats = PoolStats([0] * settings.workers)
        self.deaths_in_a_row = 0
        self.last_death = ""
        self.processes: list[_Process | None] = [None] * settings.workers
        self.closed = False
        self.threads = [
            threading.Thread(target=self._dispatch, args=(slot,), daemon=True, name=f"llama-{slot}")
            for slot in range(settings.workers)
        ]
        for thread in self.threads:
            thread.start()

    def pids(self) -> list[int]:
        """The process ids of the workers now running."""
        return [p.popen.pid for p in self.processes if p is not None and p.popen.poll() is None]

    def submit(self, message: dict[str, Any]) -> _Request:
        request = _Request(message, prompt_key(message.get("messages") or []))
        with self.lock:
            if not self.closed:
                self.pending.append(request)
                self.changed.notify_all()
                return request
        _settle(request.future, error=PermanentProviderError("the embedded model was closed"))
        return request

    def cancel(self, request: _Request) -> None:
        """Give up on a request: queued, it never starts; running, its process aborts it."""
        with self.lock:
            request.cancelled_at = time.monotonic()
            process = request.process
        if process is not None:
            process.send({"op": "cancel", "id": request.message["id"]})

    def _broken(self) -> WorkerDied | None:
        with self.lock:
            if self.deaths_in_a_row < MAX_DEATHS_IN_A_ROW:
                return None
            return WorkerDied(
                f"the embedded model's process died {self.deaths_in_a_row} times in a row "
                f"(last: {self.last_death}); it is not started again in this run",
                self.last_death,
            )

    def _died(self, slot: int, cause: str) -> None:
        with self.lock:
            self.processes[slot] = None
            self.affinity.forget(slot)
            self.deaths_in_a_row += 1
            self.last_death = cause

    def _start(self, slot: int) -> _Process:
        """A running process for this slot, started if needed (and its model loaded)."""
        process = self.processes[slot]
        if process is not None and process.popen.poll() is None:
            return process
        process = _Process(self.settings)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                reply = process.replies.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                process.kill()
                process.death()
                cause = f"it did not load the model within {START_TIMEOUT_S:.0f} s"
                self._died(slot, cause)
                raise ModelLoadError(f"the embedded model's process failed: {cause}") from None
            if reply is _DEATH:
                cause = process.death()
                self._died(slot, cause)
                raise WorkerDied(
                    f"the embedded model's process died while loading ({cause})", cause
                )
            if not isinstance(reply, dict) or "error" in reply:  # the model did not load
                process.close()
                cause = str(reply.get("error") if isinstance(reply, dict) else reply)
                self._died(slot, cause)
                raise ModelLoadError(cause)
            if reply.get("ready"):
                break
        self.processes[slot] = process
        return process

    def _take(self, slot: int) -> _Request | None:
        """The next request for this worker (None once the pool is closed and drained)."""
        with self.lock:
            self.idle.add(slot)
            while True:
                if self.pending:
                    idle = sorted(self.idle)
                    keys = [r.key for r in itertools.islice(self.pending, WINDOW)]
                    index = self.affinity.choose(slot, keys, idle)
                    if index is not None:
                        request = self.pending[index]
                        del self.pending[index]
                        self.idle.discard(slot)
                        self.affinity.served(slot, request.key)
                        self.changed.notify_all()  # its own requests are others' now
                        return request
                elif self.closed:
                    return None
                self.changed.wait()

    def _dispatch(self, slot: int) -> None:
        while True:
            request = self._take(slot)
            if request is None:
                process = self.processes[slot]
                if process is not None:
                    process.close()
                return
            with self.lock:
                given_up = request.cancelled_at is not None or request.future.cancelled()
            if given_up:
                _settle(request.future)
                continue
            problem = self._broken()
            if problem is not None:
                _settle(request.future, error=problem)
                continue
            try:
                process = self._start(slot)
                reply = self._serve(slot, process, request)
            except PermanentProviderError as exc:
                _settle(request.future, error=exc)
                continue
            except BaseException as exc:  # a thread that dies would leave its requests hanging
                failed = PermanentProviderError(f"the embedded model: {type(exc).__name__}: {exc}")
                _settle(request.future, error=failed)
                continue
            _settle(request.future, None if reply.get("cancelled") else reply)

    def _serve(self, slot: int, process: _Process, request: _Request) -> dict[str, Any]:
        with self.lock:
            request.process = process
            cancelled = request.cancelled_at is not None
        if cancelled:
            return {"cancelled": True}
        # a process gone before it could be written to says so on its replies: read on
        process.send({"op": "generate", **request.message})
        while True:
            try:
                reply = process.replies.get(timeout=1.0)
            except queue.Empty:
                # a generation cancelled long ago that does not stop: the process is stuck
                since = request.cancelled_at
                if since is not None and time.monotonic() - since > CANCEL_GRACE_S:
                    process.kill()
                continue
            if reply is _DEATH:
                cause = process.death()
                if request.cancelled_at is not None:
                    # given up on, and ended (by us, if it would not stop): no crash
                    with self.lock:
                        self.processes[slot] = None
                        self.affinity.forget(slot)
                    return {"cancelled": True}
                self._died(slot, cause)
                raise WorkerDied(f"the embedded model's process died ({cause})", cause)
            if not isinstance(reply, dict) or reply.get("id") != request.message["id"]:
                continue  # an answer to a request given up before
            with self.lock:
                self.deaths_in_a_row = 0
                self.stats.served[slot] += 1
                tokens = reply.get("prompt_tokens") or {}
                self.stats.reused += int(tokens.get("reused") or 0)
                self.stats.evaluated += int(tokens.get("evaluated") or 0)
            reply["slot"] = slot
            if "error" in reply:
                raise PermanentProviderError(str(reply["error"]))
            answer: dict[str, Any] = reply
            return answer

    def close(self) -> None:
        """End the processes: each finishes the request it serves, if any."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self.changed.notify_all()
        for thread in self.threads:
            thread.join(timeout=5)
        for process in self.processes:
            if process is not None and process.popen.poll() is None:
                process.kill()


_request_ids = itertools.count()


async def generate(
    pool: WorkerPool, messages: list[dict[str, Any]], settings: dict[str, Any]
) -> dict[str, Any] | None:
    """One chat completion from the pool's model: llama-cpp-python's response, or None
    if the pool gave up on it. Cancelling the caller cancels the generation."""
    job = pool.submit({"id": next(_request_ids), "messages": messages, "settings": settings})
    try:
        reply = await asyncio.wrap_future(job.future)
    except asyncio.CancelledError:  # a timeout or an interrupted run
        pool.cancel(job)
        raise
    result: dict[str, Any] | None = reply.get("result")
    return result


_pools: dict[ModelSettings, WorkerPool] = {}
_pools_lock = threading.Lock()


def pool_for(settings: ModelSettings) -> WorkerPool:
    """The process's one pool for these settings (a model is loaded once per worker)."""
    with _pools_lock:
        pool = _pools.get(settings)
        if pool is None or pool.closed:
            if not _pools:
                atexit.register(close_pools)
            pool = _pools[settings] = WorkerPool(settings)
        return pool


def close_pools() -> None:
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


def _forget_after_fork() -> None:
    # a forked child has none of the parent's threads: its pools are the parent's, and so
    # are their pipes, which it closes so that the workers still end with the parent
    global _pools_lock
    _pools_lock = threading.Lock()
    for pool in _pools.values():
        for process in pool.processes:
            if process is not None:
                for stream in (process.popen.stdin, process.popen.stdout, process.popen.stderr):
                    with contextlib.suppress(OSError, ValueError):
                        if stream is not None:
                            os.close(stream.fileno())
    _pools.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
