"""prompteur optimize against DSPy 3.4's optimizers, on the same model, splits and metric.

One llama.cpp server (``python -m llama_cpp.server``) serves the embedded GGUF on 127.0.0.1;
a small proxy in front of it counts every completion call and its tokens per client (each
optimizer, and its held-out scoring, is a client: ``http://proxy/<client>/v1``). For each
task folder (train/val/test jsonl, see ``optimizer_tasks.py``), each optimizer trains on
train (+ val where it takes a validation set), and its result is scored once on test with
the task's metric. Reported per optimizer: held-out accuracy, calls and tokens spent
optimizing, wall time; a DSPy optimizer that fails is recorded with its error.

Each DSPy row runs in a child process; ``--dspy-timeout SECONDS`` bounds its optimizing: at
the limit the proxy refuses that client's further calls, the child is killed and the row is
recorded as a timeout (its calls and wall time so far, no held-out score). The held-out
scoring of a program that did finish is not bounded.

DSPy is not a dependency of prompteur; install it in the benchmark's environment:
``.venv/bin/pip install 'dspy==3.4.*'``.

    .venv/bin/python bench/optimize_vs_dspy.py --limit-test 20 --optimizers baseline,bootstrap
    nice -n 10 .venv/bin/python bench/optimize_vs_dspy.py --json bench/results/dspy.json

Optimizers: baseline (the unoptimized program / starting prompt), bootstrap
(BootstrapFewShot), mipro (MIPROv2 auto=light), gepa (GEPA auto=light), prompteur
(``prompteur optimize SUITE --budget 300 --seed 0 --holdout test.jsonl``, the suite's provider
being ``openai:chat`` at the proxy with temperature 0 and DSPy's max_tokens).
DSPy runs ``dspy.Predict("question -> answer")`` and is graded on its ``answer`` field;
its proposer / reflection model is the same small model, as prompteur's is by default.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import inspect
import json
import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# DSPy would fetch a model price list from the internet at its first call: the packaged
# copy serves (nothing here leaves 127.0.0.1)
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from optimizer_tasks import METRICS, make_suite, metric_for, metric_verdict, read_task  # noqa: E402

TASKS_DIR = HERE.parent.parent / "shared" / "optimizer-tasks"
DEV_TASKS = ("family_relationships", "ransom_note", "products")
ALL_OPTIMIZERS = ("baseline", "bootstrap", "mipro", "gepa", "prompteur")
MODEL_ALIAS = "smollm2"
COUNTED = ("/chat/completions", "/completions")


# --- the model server and the counting proxy --------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def model_path() -> Path:
    from prompteur.providers._local import default_model_path

    return default_model_path()


@contextlib.contextmanager
def llama_server(n_ctx: int) -> Iterator[int]:
    """``python -m llama_cpp.server`` with the embedded model on 127.0.0.1; yields its port."""
    port = free_port()
    log = open(os.devnull, "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(n_ctx),
            "--model_alias",
            MODEL_ALIAS,
        ],
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server ended at start (exit {process.returncode})")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("llama_cpp.server did not answer within 120 s") from None
                time.sleep(0.5)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failed: int = 0
    refused: int = 0  # calls made after the client's time limit, never forwarded


class CountingProxy:
    """Forwards ``/<client>/v1/...`` to the server's ``/v1/...`` and counts, per client, the
    completion calls and the tokens their answers report."""

    def __init__(self, upstream_port: int, *, drop_json_mode: bool = False) -> None:
        self.upstream_port = upstream_port
        # the server's JSON mode samples under llama-cpp-python's grammar at about a tenth
        # of its speed: dropped, a JSON-mode request is an ordinary one (its prompt still
        # asks for JSON)
        self.drop_json_mode = drop_json_mode
        self.json_mode_dropped = 0
        self.usage: dict[str, Usage] = {}
        self.closed: set[str] = set()
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy.forward(self, "GET")

            def do_POST(self) -> None:
                proxy.forward(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def report_every(self, seconds: float) -> None:
        """Print the calls counted so far every ``seconds`` (runs take hours on a busy
        machine)."""

        def report() -> None:
            while True:
                time.sleep(seconds)
                with self.lock:
                    counts = ", ".join(f"{c} {u.calls}" for c, u in self.usage.items())
                print(f"    [{time.strftime('%H:%M:%S')}] calls: {counts}", flush=True)

        threading.Thread(target=report, daemon=True).start()

    def url(self, client: str) -> str:
        return f"http://127.0.0.1:{self.port}/{client}/v1"

    def of(self, client: str) -> Usage:
        with self.lock:
            return self.usage.setdefault(client, Usage())

    def close_client(self, client: str) -> None:
        """Refuse the client's calls from now on (503), without reaching the server."""
        with self.lock:
            self.closed.add(client)

    def forward(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        _, client, rest = [*handler.path.split("/", 2), "", ""][:3]
        path = "/" + rest
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        counted = method == "POST" and path.split("?")[0].endswith(COUNTED)
        with self.lock:
            refused = client in self.closed
        if refused:
            if counted:
                self.of(client).refused += 1
            self.reply(handler, 503, b'{"error": "time limit reached"}', "application/json")
            return
        if counted:  # counted when sent, so that a call cut off by a time limit counts too
            usage = self.of(client)
            with self.lock:
                usage.calls += 1
            if self.drop_json_mode:
                body = self._without_json_mode(body)
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=3600)
        try:
            conn.request(method, path, body or None, {"Content-Type": "application/json"})
            response = conn.getresponse()
            data, status = response.read(), response.status
            kind = response.getheader("Content-Type") or "application/json"
        except OSError as exc:
            data, status, kind = json.dumps({"error": str(exc)}).encode(), 502, "application/json"
        finally:
            conn.close()
        if counted:
            usage = self.of(client)
            with self.lock:
                if status != 200:
                    usage.failed += 1
                with contextlib.suppress(ValueError, AttributeError, TypeError):
                    reported = json.loads(data).get("usage") or {}
                    usage.prompt_tokens += int(reported.get("prompt_tokens") or 0)
                    usage.completion_tokens += int(reported.get("completion_tokens") or 0)
        self.reply(handler, status, data, kind)

    def _without_json_mode(self, body: bytes) -> bytes:
        try:
            request = json.loads(body)
        except ValueError:
            return body
        if not isinstance(request, dict) or "response_format" not in request:
            return body
        del request["response_format"]
        with self.lock:
            self.json_mode_dropped += 1
        return json.dumps(request).encode()

    @staticmethod
    def reply(handler: BaseHTTPRequestHandler, status: int, data: bytes, kind: str) -> None:
        # the client may be gone: a DSPy child killed at its time limit
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.send_response(status)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- one row of the table ---------------------------------------------------------------------


@dataclass
class Row:
    task: str
    optimizer: str
    accuracy: float | None = None  # on the test split
    correct: int = 0
    tested: int = 0
    calls: int = 0  # spent optimizing (not counting the held-out scoring)
    tokens: int = 0
    wall_s: float = 0.0  # optimizing
    test_calls: int = 0
    test_wall_s: float = 0.0
    error: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)


# --- DSPy -------------------------------------------------------------------------------------


def _dspy() -> Any:
    try:
        import dspy
    except ImportError:
        sys.exit("error: DSPy is not installed here: .venv/bin/pip install 'dspy==3.4.*'")
    with contextlib.suppress(Exception):
        dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    return dspy


def _lm(dspy: Any, url: str, max_tokens: int) -> Any:
    return dspy.LM(
        f"openai/{MODEL_ALIAS}",
        api_base=url,
        api_key="local",
        cache=False,
        temperature=0.0,
        max_tokens=max_tokens,
        num_retries=1,
    )


def _only_known(fn: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    """Keep the keyword arguments this DSPy version's ``fn`` takes."""
    accepted = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in accepted}


def run_dspy(
    name: str,
    task: str,
    splits: dict[str, list[dict[str, Any]]],
    metric_name: str,
    proxy: CountingProxy,
    args: argparse.Namespace,
) -> Row:
    """One DSPy row, in a forked child so that ``--dspy-timeout`` can stop it whatever DSPy is
    doing; the calls are counted here, at the proxy."""
    row = Row(task, name)
    if not args.dspy_json_fallback:
        row.notes["json_fallback"] = False
    if not args.json_mode:
        row.notes["json_mode"] = False
    if args.dspy_max_errors is not None:
        row.notes["max_errors"] = args.dspy_max_errors
    client = f"{task}.{name}"
    urls = (proxy.url(client), proxy.url(f"{client}.test"))
    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_dspy_child,
        args=(send, name, splits, metric_name, *urls, args),
        daemon=True,  # ended with the benchmark
    )
    started = time.perf_counter()
    child.start()
    send.close()
    try:
        optimized = _receive(receive, child, args.dspy_timeout)
        if optimized is None and child.is_alive():
            proxy.close_client(client)
            row.error = f"timeout: stopped after {args.dspy_timeout:.0f} s of optimizing"
            row.notes["timed_out"] = True
            row.wall_s = time.perf_counter() - started
        elif optimized is None:
            row.error = f"the DSPy process ended without a result (exit {child.exitcode})"
            row.wall_s = time.perf_counter() - started
        else:
            row.wall_s, row.error = optimized["wall_s"], optimized["error"]
            if optimized["traceback"]:
                row.notes["traceback"] = optimized["traceback"]
        spent = proxy.of(client)
        row.calls, row.tokens = spent.calls, spent.prompt_tokens + spent.completion_tokens
        if optimized is not None and optimized["error"] is None:
            scored = _receive(receive, child, None)
            if scored is None:
                row.error = f"the DSPy process ended while scoring (exit {child.exitcode})"
            else:
                row.correct, row.tested = scored["correct"], scored["tested"]
                row.test_wall_s = scored["wall_s"]
                row.accuracy = row.correct / row.tested if row.tested else None
                # held-out answers no DSPy adapter could read
                row.notes["test_unparsed"] = scored["unparsed"]
                row.notes["first_answers"] = [a[:80] for a in scored["answers"]]
            row.test_calls = proxy.of(client + ".test").calls
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()
    if proxy.of(client).refused:
        row.notes["refused_after_limit"] = proxy.of(client).refused
    return row


def _receive(
    receive: Connection, child: multiprocessing.process.BaseProcess, timeout: float | None
) -> dict[str, Any] | None:
    """The child's next message, or None if it did not come within ``timeout`` or the child
    ended first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        wait = 5.0 if deadline is None else min(5.0, deadline - time.monotonic())
        if wait <= 0:
            return None
        if receive.poll(wait):
            try:
                message: dict[str, Any] = receive.recv()
            except EOFError:
                return None
            return message
        if not child.is_alive() and not receive.poll(0):
            return None


def _dspy_child(
    send: Connection,
    name: str,
    splits: dict[str, list[dict[str, Any]]],
    metric_name: str,
    url: str,
    test_url: str,
    args: argparse.Namespace,
) -> None:
    """Optimize with DSPy's ``name`` at ``url``, send {wall_s, error, traceback}; then, if it
    gave a program, score it on the test split at ``test_url`` and send the score."""
    dspy = _dspy()
    verdict = metric_verdict(metric_name)

    def examples(rows: list[dict[str, Any]]) -> list[Any]:
        return [
            dspy.Example(question=r["question"], answer=str(r["answer"])).with_inputs("question")
            for r in rows
        ]

    def metric(
        gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None
    ) -> Any:
        passed, reason = verdict(str(getattr(pred, "answer", "") or ""), gold.answer)
        if name == "gepa":  # GEPA reads feedback, as prompteur's reflect reads the reasons
            return dspy.Prediction(score=float(passed), feedback=reason)
        return passed

    train, val = examples(splits["train"]), examples(splits["val"])
    test = examples(splits["test"])
    lm = _lm(dspy, url, args.dspy_max_tokens)
    if args.dspy_json_fallback:
        dspy.configure(lm=lm)
    else:  # an unparsed answer is asked again only with DSPy's default adapter
        dspy.configure(lm=lm, adapter=dspy.ChatAdapter(use_json_adapter_fallback=False))
    program = dspy.Predict("question -> answer")
    error = trace = None
    started = time.perf_counter()
    try:
        compiled = _compile(dspy, name, program, metric, lm, train, val, args)
    except Exception as exc:  # a DSPy failure is a result of the benchmark, not its end
        error = f"{type(exc).__name__}: {str(exc)[:300]}"
        trace = traceback.format_exc()[-2000:]
        compiled = None
    send.send({"wall_s": time.perf_counter() - started, "error": error, "traceback": trace})
    if compiled is None:
        return
    test_lm = _lm(dspy, test_url, args.dspy_max_tokens)
    started = time.perf_counter()
    correct = tested = unparsed = 0
    answers: list[str] = []
    with dspy.context(lm=test_lm):
        for example in test:
            try:
                answer = str(compiled(question=example.question).answer or "")
            except Exception:  # an answer DSPy cannot parse is a wrong answer
                answer = ""
                unparsed += 1
            correct += verdict(answer, example.answer)[0]
            tested += 1
            answers.append(answer)
    send.send(
        {
            "correct": correct,
            "tested": tested,
            "unparsed": unparsed,
            "answers": answers[:5],  # what the parsed answers look like
            "wall_s": time.perf_counter() - started,
        }
    )


def _compile(
    dspy: Any,
    name: str,
    program: Any,
    metric: Callable[..., Any],
    lm: Any,
    train: list[Any],
    val: list[Any],
    args: argparse.Namespace,
) -> Any:
    if name == "baseline":
        return program
    if name == "bootstrap":
        return dspy.BootstrapFewShot(metric=metric, max_errors=args.dspy_max_errors).compile(
            program, trainset=train
        )
    if name == "mipro":
        optimizer = dspy.MIPROv2(
            **_only_known(
                dspy.MIPROv2,
                metric=metric,
                auto="light",
                prompt_model=lm,
                task_model=lm,
                seed=0,
                num_threads=args.threads,
                max_errors=args.dspy_max_errors,
                verbose=False,
            )
        )
        return optimizer.compile(
            program,
            **_only_known(
                optimizer.compile, trainset=train, valset=val, requires_permission_to_run=False
            ),
        )
    if name == "gepa":
        optimizer = dspy.GEPA(
            **_only_known(
                dspy.GEPA,
                metric=metric,
                auto="light",
                reflection_lm=lm,
                seed=0,
                num_threads=args.threads,
            )
        )
        return optimizer.compile(program, trainset=train, valset=val)
    raise ValueError(name)


# --- prompteur --------------------------------------------------------------------------------


def _prompteur_suite(
    task_dir: Path,
    metric_name: str,
    work: Path,
    url: str,
    splits: dict[str, list[dict[str, Any]]],
    max_tokens: int,
) -> Path:
    suite = make_suite(
        task_dir,
        work,
        metric_name,
        max_tokens=max_tokens,
        provider=f"openai:chat:{MODEL_ALIAS}",
        provider_config={"apiBaseUrl": url, "apiKey": "local"},
    )
    # --limit-test: the held-out file holds only the cases being scored
    (work / "test.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "vars": {"question": r["question"], "answer": str(r["answer"])},
                    "description": str(r.get("id", "")),
                },
                ensure_ascii=False,
            )
            + "\n"
            for r in splits["test"]
        ),
        encoding="utf-8",
    )
    return suite


def _holdout_scores(report: Any) -> tuple[float | None, float | None]:
    """(start, winner) held-out pass rates from optimize.json, wherever it keeps them."""
    found: dict[str, float] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, int | float) and "holdout" in path.lower():
            found[path] = float(node)

    walk(report, "")
    start = next(
        (v for k, v in found.items() if "start" in k.lower() and "rate" in k.lower()), None
    )
    best = next(
        (
            v
            for k, v in found.items()
            if ("winner" in k.lower() or "best" in k.lower()) and "rate" in k.lower()
        ),
        None,
    )
    return start, best


def run_prompteur(
    task: str,
    task_dir: Path,
    splits: dict[str, list[dict[str, Any]]],
    metric_name: str,
    proxy: CountingProxy,
    args: argparse.Namespace,
) -> Row:
    row = Row(task, "prompteur")
    client = f"{task}.prompteur"
    work = Path(args.workdir) / task
    suite = _prompteur_suite(
        task_dir, metric_name, work, proxy.url(client), splits, args.dspy_max_tokens
    )
    out = work / "optimize.json"
    # a .prompty holds chat messages: a .txt would keep the candidates plain text and so
    # leave out demonstrations as earlier turns, what small chat models follow best
    best = work / "best.prompty"
    command = [
        sys.executable,
        "-m",
        "prompteur",
        "optimize",
        str(suite),
        "--budget",
        str(args.budget),
        "--seed",
        "0",
        "--holdout",
        str(work / "test.jsonl"),
        "-o",
        str(best),
        "-o",
        str(out),
    ]
    env = {
        **os.environ,
        "OPENAI_BASE_URL": proxy.url(client),
        "OPENAI_API_KEY": "local",
        "PROMPTEUR_HOME": str(work / "home"),
        "NO_PROXY": "127.0.0.1",
    }
    row.notes["command"] = " ".join(command)
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = process.communicate(timeout=args.prompteur_timeout)
    except subprocess.TimeoutExpired:
        # as a user's Ctrl-C: prompteur keeps the best so far and writes it (exit 130)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate()
        row.notes["timed_out"] = True
    row.wall_s = time.perf_counter() - started
    spent = proxy.of(client)
    row.calls, row.tokens = spent.calls, spent.prompt_tokens + spent.completion_tokens
    row.notes["stdout_tail"] = stdout[-3000:]
    interrupted = process.returncode == 130 and row.notes.get("timed_out")
    if process.returncode != 0 and not interrupted:
        row.error = f"exit {process.returncode}: {stderr.strip()[-300:]}"
        return row
    if interrupted:
        row.error = f"timeout: stopped after {args.prompteur_timeout:.0f} s, best so far scored"
        # prompteur scores its holdout only at the end: the start is scored here instead
        passed, tested, calls, _ = score_prompt(
            None, task, task_dir, splits, metric_name, proxy, args, work, "start"
        )
        row.notes["holdout_start"] = passed / tested if tested else None
        row.notes["start_test_calls"] = calls
    else:
        with contextlib.suppress(OSError, ValueError):
            start, winner = _holdout_scores(json.loads(out.read_text()))
            row.notes["holdout_start"], row.notes["holdout_winner"] = start, winner
    # the held-out score, measured here the same way as DSPy's: the winner on test
    scored = score_prompt(
        best if best.exists() else None, task, task_dir, splits, metric_name, proxy, args, work
    )
    row.correct, row.tested, row.test_calls, row.test_wall_s = scored
    row.accuracy = row.correct / row.tested if row.tested else None
    return row


def score_prompt(
    prompt_file: Path | None,
    task: str,
    task_dir: Path,
    splits: dict[str, list[dict[str, Any]]],
    metric_name: str,
    proxy: CountingProxy,
    args: argparse.Namespace,
    work: Path,
    client_suffix: str = "test",
) -> tuple[int, int, int, float]:
    """Score a prompt (a file ``prompteur optimize -o`` wrote; None: the plain starting
    prompt) on the test split with ``prompteur eval``: (correct, tested, calls, wall)."""
    client = f"{task}.prompteur.{client_suffix}"
    suite_dir = work / f"score-{client_suffix}"
    suite = _prompteur_suite(
        task_dir, metric_name, suite_dir, proxy.url(client), splits, args.dspy_max_tokens
    )
    text = suite.read_text().replace("tests: file://tests.jsonl", "tests: file://test.jsonl")
    if prompt_file is not None:
        text = text.replace('  - raw: "{{question}}"', f"  - id: file://{prompt_file}")
    suite.write_text(text)
    results = suite_dir / "results.jsonl"
    env = {**os.environ, "PROMPTEUR_HOME": str(suite_dir / "home"), "NO_PROXY": "127.0.0.1"}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "prompteur", "eval", str(suite), "--no-cache", "-o", str(results)],
        cwd=suite_dir,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    correct = tested = 0
    with contextlib.suppress(OSError):
        for line in results.read_text().splitlines():
            record = json.loads(line)
            if "success" in record or "pass" in record:
                tested += 1
                correct += bool(record.get("success", record.get("pass")))
    return correct, tested, proxy.of(client).calls, wall


# --- the table --------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'task':<22} {'optimizer':<10} {'held-out acc':>13} {'calls':>6} {'tokens':>8} "
        f"{'wall':>8}  note"
    )
    print(header)
    print("─" * len(header))
    for r in rows:
        acc = f"{r.accuracy:.0%} ({r.correct}/{r.tested})" if r.accuracy is not None else "—"
        note = r.error or ""
        print(
            f"{r.task:<22} {r.optimizer:<10} {acc:>13} {r.calls:>6} {r.tokens:>8} "
            f"{r.wall_s:>7.0f}s  {note[:90]}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tasks",
        default=",".join(DEV_TASKS),
        help="task names under --tasks-dir, or task folders",
    )
    parser.add_argument(
        "--tasks-dir",
        type=Path,
        default=TASKS_DIR,
        help="where task names are looked up (default: ../shared/optimizer-tasks)",
    )
    parser.add_argument("--optimizers", default=",".join(ALL_OPTIMIZERS))
    parser.add_argument(
        "--metric",
        help="the metric, for a task folder without a default: NAME for every task, "
        "or TASK=NAME,... for each",
    )
    parser.add_argument("--limit-test", type=int, help="score on the first N test items only")
    parser.add_argument("--budget", type=int, default=300, help="prompteur optimize --budget")
    parser.add_argument(
        "--dspy-max-tokens",
        type=int,
        default=256,
        help="max_tokens of every task call, DSPy's and the prompteur suite's",
    )
    parser.add_argument(
        "--dspy-timeout",
        type=float,
        help="stop a DSPy optimizer after this many seconds of optimizing (recorded as a "
        "timeout); its held-out scoring is not bounded",
    )
    parser.add_argument(
        "--prompteur-timeout",
        type=float,
        help="stop prompteur optimize after this many seconds (SIGTERM, as Ctrl-C: it keeps "
        "the best so far), then score that and the start here",
    )
    parser.add_argument(
        "--no-dspy-json-fallback",
        dest="dspy_json_fallback",
        action="store_false",
        help="DSPy's ChatAdapter does not ask again as JSON when it cannot parse an answer "
        "(llama-cpp-python samples under a JSON grammar at about a tenth of its speed)",
    )
    parser.add_argument(
        "--no-json-mode",
        dest="json_mode",
        action="store_false",
        help="the proxy drops response_format from every request, so that DSPy's JSON "
        "fallback asks again without the server's grammar (its prompt still asks for JSON)",
    )
    parser.add_argument(
        "--dspy-max-errors",
        type=int,
        help="how many failed examples (answers DSPy cannot parse) BootstrapFewShot and "
        "MIPROv2 pass over before they give up (default: DSPy's own, 10)",
    )
    parser.add_argument("--threads", type=int, default=2, help="DSPy's num_threads")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--json", type=Path, help="write the rows here (rewritten after each)")
    parser.add_argument("--workdir", default="/tmp/optimize-vs-dspy")
    args = parser.parse_args()
    # a SIGTERM ends the run as Ctrl-C does: the server is stopped, not left behind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    optimizers = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    unknown = set(optimizers) - set(ALL_OPTIMIZERS)
    if unknown:
        print(f"error: unknown optimizer(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    metrics: dict[str, str] = {}
    for part in (args.metric or "").split(","):
        if part.strip():
            task_name, _, metric = part.rpartition("=")
            metrics[task_name.strip()] = metric.strip()
    wrong = sorted(set(metrics.values()) - set(METRICS))
    if wrong:
        print(
            f"error: unknown metric(s) {', '.join(wrong)}: use {', '.join(METRICS)}",
            file=sys.stderr,
        )
        return 2
    rows: list[Row] = []
    with llama_server(args.n_ctx) as port:
        proxy = CountingProxy(port, drop_json_mode=not args.json_mode)
        proxy.report_every(120)
        try:
            for spec in [t.strip() for t in args.tasks.split(",") if t.strip()]:
                task_dir = Path(spec) if os.sep in spec else args.tasks_dir / spec
                splits = read_task(task_dir)
                if args.limit_test:
                    splits["test"] = splits["test"][: args.limit_test]
                task = task_dir.resolve().name
                metric_name = metric_for(task_dir, metrics.get(task, metrics.get("")))
                for name in optimizers:
                    print(f"[{time.strftime('%H:%M:%S')}] {task}: {name}…", flush=True)
                    if name == "prompteur":
                        row = run_prompteur(task, task_dir, splits, metric_name, proxy, args)
                    else:
                        row = run_dspy(name, task, splits, metric_name, proxy, args)
                    rows.append(row)
                    acc = "—" if row.accuracy is None else f"{row.accuracy:.0%}"
                    print(
                        f"    held-out {acc}, {row.calls} calls, {row.wall_s:.0f} s"
                        + (f", ERROR {row.error}" if row.error else ""),
                        flush=True,
                    )
                    if args.json:
                        args.json.parent.mkdir(parents=True, exist_ok=True)
                        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))
        finally:
            proxy.close()
    print()
    print_table(rows)
    if proxy.drop_json_mode:
        print(f"JSON mode dropped from {proxy.json_mode_dropped} requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
