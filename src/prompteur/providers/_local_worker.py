"""The embedded model's worker process: ``python -m prompteur.providers._local_worker``.

It loads one GGUF model with llama-cpp-python and answers generation requests, one at a
time, so that a crash in native code (an instruction the CPU or the container refuses, a
model file llama.cpp cannot read) ends this process and not prompteur.

The protocol is one JSON object a line. The parent writes on our stdin::

    {"op": "generate", "id": 7, "messages": [...], "settings": {...}}
    {"op": "cancel", "id": 7}

and we answer on the protocol stream (our original stdout), first ``{"ready": true}`` once
the model is loaded (or ``{"error": "..."}`` and exit), then one line per request::

    {"id": 7, "result": {...}}  |  {"id": 7, "error": "..."}  |  {"id": 7, "cancelled": true}

Anything native code prints goes to stderr, which the parent keeps the end of to explain a
crash. The process exits when its stdin closes (the parent ended, even by kill -9).
"""

from __future__ import annotations

import ctypes
import logging
import os
import queue
import sys
import threading
from typing import Any, BinaryIO

import orjson

_LLAMA_LOGGER = logging.getLogger("llama-cpp-python")

#: Prompt tokens per batch, and the granularity of a reused prefix (the rest of a block is
#: evaluated again). On the embedded model, a 272-token prompt took the same time in
#: batches of 16, 32, 64 or 512 (bench/README.md), so small blocks cost
#: nothing and waste less of a shared prefix.
PREFIX_BLOCK = 32


class _Model:
    """The loaded model and the generation now running, which a cancel aborts."""

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.prefix = PrefixReuse(llama)
        self.lock = threading.Lock()
        self.running: int | None = None
        self.cancelled: set[int] = set()
        self.aborting = False
        self._abort: Any = None

    def cancel(self, request_id: int) -> None:
        """Give up on a request: queued, it will not start; running, llama.cpp aborts it at
        its next compute step (prompt or token)."""
        with self.lock:
            self.cancelled.add(request_id)
            if self.running != request_id or self.aborting:
                return
            # The abort callback is installed only now: one that is always there would run
            # in Python hundreds of times per token.
            if self._set_abort(True):
                self.aborting = True
                _LLAMA_LOGGER.setLevel(logging.CRITICAL + 1)  # the aborted decode is no error

    def start(self, request_id: int) -> bool:
        with self.lock:
            if request_id in self.cancelled:
                self.cancelled.discard(request_id)
                return False
            self.running = request_id
            return True

    def finish(self, request_id: int) -> bool:
        """After a generation: True if it was cancelled while it ran."""
        with self.lock:
            self.running = None
            was_cancelled = request_id in self.cancelled
            self.cancelled.discard(request_id)
            if self.aborting:
                self.aborting = False
                self._set_abort(False)
                _LLAMA_LOGGER.setLevel(logging.NOTSET)
            return was_cancelled

    def _set_abort(self, on: bool) -> bool:
        try:
            import llama_cpp

            if on and self._abort is None:
                self._abort = llama_cpp.ggml_abort_callback(lambda _data: True)
            callback = self._abort if on else llama_cpp.ggml_abort_callback()  # NULL
            llama_cpp.llama_set_abort_callback(self.llama._ctx.ctx, callback, None)
        except (AttributeError, TypeError, ctypes.ArgumentError):
            return False  # this llama-cpp-python cannot: the call runs to its end
        return True

    def generate(self, messages: list[dict[str, Any]], settings: dict[str, Any]) -> Any:
        try:
            return self.llama.create_chat_completion(messages=messages, **settings)
        except BaseException:
            # an aborted or failed decode may leave the cache half-written: start afresh
            self.llama.reset()
            raise


class _Channel:
    """The protocol stream: whole lines, written by one thread at a time."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = orjson.dumps(message, default=str) + b"\n"
        with self.lock:
            self.stream.write(data)
            self.stream.flush()


def _load(path: str, n_ctx: int, n_threads: int) -> Any:
    from llama_cpp import Llama

    # n_threads_batch too: its default is every core, and workers side by side would then
    # spin against each other on prompt processing
    llama = Llama(
        model_path=path,
        n_ctx=n_ctx,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        n_batch=PREFIX_BLOCK,
        verbose=False,
    )
    return llama


class PrefixReuse:
    """Keeps the KV cache of the longest prompt prefix shared with the previous call, in
    whole blocks of ``PREFIX_BLOCK`` tokens.

    The prompt is evaluated in batches of ``PREFIX_BLOCK`` tokens (``n_batch``) starting at
    token 0, and a reused prefix ends on a block boundary, so every batch is computed on the
    same inputs whether its prefix was reused or evaluated anew: the floating-point path,
    and with it each greedy answer, does not depend on which call ran before.
    """

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.generate = llama.generate
        #: prompt tokens of the last call: kept from the cache, and evaluated
        self.reused = 0
        self.evaluated = 0
        llama.generate = self._generate  # what create_completion calls

    def _generate(self, tokens: Any, *args: Any, **kwargs: Any) -> Any:
        import numpy as np

        tokens = list(tokens)
        llama = self.llama
        # at least the prompt's last token is evaluated: its logits give the first answer token
        limit = min(llama.n_tokens, len(tokens) - 1)
        shared = 0
        if limit > 0:
            differ = np.flatnonzero(llama.input_ids[:limit] != np.asarray(tokens[:limit]))
            shared = int(differ[0]) if differ.size else limit
        keep = shared - shared % PREFIX_BLOCK
        if keep > 0:
            # llama-cpp-python then matches exactly this prefix and evaluates the rest
            llama.n_tokens = keep
        else:
            llama.reset()
        self.reused, self.evaluated = keep, len(tokens) - keep
        return self.generate(tokens, *args, **kwargs)


def _read_requests(model: _Model, requests: queue.Queue[dict[str, Any] | None]) -> None:
    """Read our stdin: generations are queued, cancels act at once; at its end, exit."""
    for line in sys.stdin.buffer:
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if message.get("op") == "cancel":
            model.cancel(int(message["id"]))
        elif message.get("op") == "generate":
            requests.put(message)
    # the parent is gone (or closed us): nothing is left to answer
    os._exit(0)


def _serve(model: _Model, channel: _Channel) -> None:
    requests: queue.Queue[dict[str, Any] | None] = queue.Queue()
    threading.Thread(target=_read_requests, args=(model, requests), daemon=True).start()
    while True:
        message = requests.get()
        if message is None:
            return
        request_id = int(message["id"])
        if not model.start(request_id):
            channel.send({"id": request_id, "cancelled": True})
            continue
        reply: dict[str, Any]
        try:
            reply = {
                "id": request_id,
                "result": model.generate(message["messages"], message["settings"]),
                "prompt_tokens": {
                    "reused": model.prefix.reused,
                    "evaluated": model.prefix.evaluated,
                },
            }
        except ValueError as exc:  # e.g. the prompt is longer than the context window
            reply = {"id": request_id, "error": str(exc)}
        except RuntimeError as exc:  # llama_decode returned 2 (aborted), or another failure
            reply = {"id": request_id, "error": str(exc) or type(exc).__name__}
        except Exception as exc:
            reply = {"id": request_id, "error": f"{type(exc).__name__}: {exc}"}
        if model.finish(request_id):
            reply = {"id": request_id, "cancelled": True}
        channel.send(reply)


def main() -> None:
    # The protocol keeps our stdout; whatever native code prints goes to stderr instead.
    channel = _Channel(os.fdopen(os.dup(1), "wb"))
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    settings = orjson.loads(sys.argv[1])
    try:
        llama = _load(settings["path"], settings["n_ctx"], settings["n_threads"])
    except ImportError:
        channel.send(
            {"error": "the local provider needs llama-cpp-python: pip install llama-cpp-python"}
        )
        sys.exit(3)
    except (ValueError, RuntimeError, OSError) as exc:
        channel.send({"error": f"cannot load model {os.path.basename(settings['path'])}: {exc}"})
        sys.exit(3)
    channel.send({"ready": True, "pid": os.getpid()})
    _serve(_Model(llama), channel)


if __name__ == "__main__":
    main()
