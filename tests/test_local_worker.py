"""The embedded model out of process: a crash in native code is an error of the cell it was
running, and a build that cannot run on this machine is found before the run.

The worker processes are real (llama.cpp running SmolLM2); the faults are real signals, sent
to them by the test or raised in them through a ``sitecustomize`` module (``in_workers``),
since no machine here refuses the instructions a native build would use."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.providers._local_pool import (
    MAX_DEATHS_IN_A_ROW,
    ModelLoadError,
    ModelSettings,
    close_pools,
    pool_for,
)

pytestmark = pytest.mark.slow

STORY = "Write a long story about a {{animal}}."
ANIMALS = ["dragon", "cat", "horse", "owl", "fox", "bear"]


def suite(workers: int = 1, max_tokens: int = 120) -> dict[str, object]:
    return {
        "description": "stories",
        "prompts": [STORY],
        "providers": [{"id": "local", "config": {"max_tokens": max_tokens, "workers": workers}}],
        "tests": [
            {"vars": {"animal": a}, "assert": [{"type": "contains", "value": "a"}]} for a in ANIMALS
        ],
    }


def kill_when_generating(marker: Path) -> threading.Thread:
    """A thread that waits until a worker says it is generating (its pid in ``marker``),
    then sends it SIGSEGV."""

    def watch() -> None:
        for _ in range(1200):
            if marker.is_file() and marker.read_text().strip():
                os.kill(int(marker.read_text()), signal.SIGSEGV)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_worker_killed_by_sigsegv_errors_its_cell_and_the_run_goes_on(
    tmp_path: Path, run_cli: Callable[..., Result], in_workers: Callable[[str], Path]
) -> None:
    marker = tmp_path / "generating"
    # the worker that generates the cat's story says so once, then takes its time
    in_workers(
        f"""
        import os, time
        from llama_cpp import Llama
        original = Llama.create_chat_completion
        def slow_once(self, *args, **kwargs):
            if "cat" in kwargs["messages"][-1]["content"]:
                try:
                    fd = os.open({str(marker)!r}, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    pass
                else:
                    os.write(fd, str(os.getpid()).encode())
                    os.close(fd)
                    time.sleep(60)
            return original(self, *args, **kwargs)
        Llama.create_chat_completion = slow_once
        """
    )
    (tmp_path / "suite.json").write_text(json.dumps(suite()), encoding="utf-8")
    db = str(tmp_path / "store.db")
    killer = kill_when_generating(marker)
    result = prompteur.evaluate("suite.json", store=db)
    killer.join(timeout=1)
    errors = [c for c in result.results if c.error is not None]
    assert [c.vars["animal"] for c in errors] == ["cat"], [c.error for c in result.results]
    assert errors[0].error is not None
    assert errors[0].error.startswith(
        "the embedded model's process died (SIGSEGV, a segmentation fault"
    )
    # the cells after it ran in a new worker
    assert sum(1 for c in result.results if c.output) == len(ANIMALS) - 1
    assert result.summary.errors == 1

    # the errored cell is run again, and the run ends whole
    retried = run_cli("eval", "--retry-errors", result.run_id, "--db", db, "--no-progress")
    assert retried.exit_code == 0, retried.output
    shown = run_cli("show", result.run_id, "--db", db, "-o", str(tmp_path / "run.json"))
    assert shown.exit_code == 0, shown.output
    cells = json.loads((tmp_path / "run.json").read_text())["results"]
    assert len(cells) == len(ANIMALS)
    assert all(c["error"] is None and c["output"] for c in cells)


def test_a_model_that_keeps_crashing_is_given_up_after_a_few_deaths(
    in_workers: Callable[[str], Path],
) -> None:
    in_workers(
        """
        import os, signal
        from llama_cpp import Llama
        def crash(self, *args, **kwargs):
            if kwargs.get("max_tokens") != 1:  # the probe passes; every cell crashes
                os.kill(os.getpid(), signal.SIGBUS)
            return original(self, *args, **kwargs)
        original = Llama.create_chat_completion
        Llama.create_chat_completion = crash
        """
    )
    result = prompteur.evaluate(suite(), options=prompteur.EvalOptions(max_concurrency=1))
    errors = [c.error or "" for c in sorted(result.results, key=lambda c: c.test_index)]
    assert len(errors) == len(ANIMALS)
    assert all(
        e.startswith("the embedded model's process died (SIGBUS")
        for e in errors[:MAX_DEATHS_IN_A_ROW]
    )
    given_up = errors[MAX_DEATHS_IN_A_ROW:]
    assert given_up and all(f"died {MAX_DEATHS_IN_A_ROW} times in a row" in e for e in given_up)


def test_a_build_that_cannot_run_here_stops_before_the_run_in_one_line(
    in_workers: Callable[[str], Path],
    write: Callable[[str, str], Path],
    run_cli: Callable[..., Result],
) -> None:
    # what a native build does on a machine that refuses its instructions
    in_workers(
        """
        import os, signal
        from llama_cpp import Llama
        def refused(self, *args, **kwargs):
            os.kill(os.getpid(), signal.SIGILL)
        Llama.create_chat_completion = refused
        """
    )
    write("suite.yaml", "prompts: ['Say {{w}}']\ntests: [{vars: {w: hi}}]\n")
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: the embedded model (SmolLM2-135M-Instruct.Q4_1.gguf) cannot run")
    assert "SIGILL, an illegal instruction" in line
    assert "make install LLAMA_BUILD=portable" in line
    assert "Traceback" not in result.output
    # nothing was recorded
    runs = run_cli("runs", "--json")
    assert json.loads(runs.stdout) == []


def test_a_passed_probe_is_remembered_for_this_build_and_machine(
    in_workers: Callable[[str], Path], write: Callable[[str, str], Path]
) -> None:
    log = in_workers(
        """
        import os
        from llama_cpp import Llama
        original = Llama.create_chat_completion
        def logged(self, *args, **kwargs):
            with open(os.environ["WORKER_LOG"], "a") as file:
                file.write(f"{kwargs.get('max_tokens')}\\n")
            return original(self, *args, **kwargs)
        Llama.create_chat_completion = logged
        """
    )
    write(
        "suite.yaml",
        "prompts: ['Say {{w}}']\nproviders: [{id: local, config: {max_tokens: 3}}]\ntests: [{vars: {w: hi}}]\n",
    )
    options = prompteur.EvalOptions(max_concurrency=1)
    prompteur.evaluate("suite.yaml", options=options)
    assert log.read_text().split() == ["1", "3"]  # the probe, then the cell
    prompteur.evaluate("suite.yaml", options=options)
    assert log.read_text().split() == ["1", "3", "3"]  # no probe the second time
    memory = Path(os.environ["XDG_CACHE_HOME"]) / "prompteur" / "local-probes.json"
    assert len(json.loads(memory.read_text())) == 1


def test_a_gguf_llama_cpp_cannot_read_is_refused_before_the_run(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    close_pools()
    Path("broken.gguf").write_bytes(b"GGUF" + bytes(range(256)) * 64)
    write("suite.yaml", "prompts: [hi]\nproviders: ['local:broken.gguf']\n")
    result = run_cli("eval", "suite.yaml", "--no-progress")
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: the embedded model (broken.gguf) cannot"), line
    assert "Rebuild it portable" not in line, "no rebuild fixes a file llama.cpp cannot read"
    assert "Traceback" not in result.output
    close_pools()


def test_the_pool_reports_a_model_that_does_not_load(tmp_path: Path) -> None:
    path = tmp_path / "empty.gguf"
    path.write_bytes(b"GGUF")
    pool = pool_for(ModelSettings(path, 512, 1, 1))
    try:
        job = pool.submit(
            {"id": 1, "messages": [{"role": "user", "content": "hi"}], "settings": {}}
        )
        with pytest.raises(ModelLoadError, match=r"empty\.gguf"):
            job.future.result(timeout=60)
    finally:
        pool.close()
