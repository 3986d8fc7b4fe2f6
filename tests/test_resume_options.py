"""A run is continued (--resume, --retry-errors, or evaluate(run_id=...)) with the options
it began with: --no-cache, --max-retries, --timeout, --pass-threshold, -j. An option given
again on the command line still applies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.store import Store

# answers with the model version of the environment; slow enough to be killed midway
VERSIONED = """
import os, time

def call_api(prompt, options, context):
    with open(f"calls-{os.getpid()}.log", "a") as log:
        log.write(prompt + "\\n")
    time.sleep(0.3)
    return os.environ["MODEL_VERSION"]
"""


@pytest.fixture
def versioned_suite(write: Callable[[str, str], Path]) -> Path:
    write("ver.py", VERSIONED)
    # case 0 expects what no version says: the pass rate stays under 100%
    tests = "\n".join(
        f"  - vars: {{n: {n}}}\n    assert: [{{type: equals, value: {'v9' if n == 0 else 'v2'}}}]"
        for n in range(30)
    )
    return write(
        "nc.yaml", f"prompts: ['q {{{{n}}}}']\nproviders: [file://ver.py]\ntests:\n{tests}\n"
    )


def _eval(folder: Path, store_url: str, version: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "prompteur", "eval", "--db", store_url, "--no-progress", *args],
        cwd=folder,
        env={**os.environ, "MODEL_VERSION": version},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_run_begun_without_the_cache_is_resumed_without_it(
    versioned_suite: Path, tmp_path: Path, store_url: str
) -> None:
    cached = _eval(tmp_path, store_url, "v1", "nc.yaml", "-j", "8")
    cached.communicate(timeout=120)
    assert cached.returncode == 1, "v1 answers, all cached now"

    fresh = _eval(
        tmp_path, store_url, "v2", "nc.yaml", "--no-cache", "-j", "2", "--pass-threshold", "90%"
    )
    store = Store(store_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = store.runs()  # newest first
            if len(runs) == 2 and runs[0].done >= 6:
                break
            time.sleep(0.05)
        fresh.send_signal(signal.SIGKILL)
        fresh.communicate()
        (killed,) = [r for r in store.runs() if r.status == "interrupted"]
        assert 6 <= killed.done < 30

        resumed = _eval(tmp_path, store_url, "v2", "--resume")
        out, err = resumed.communicate(timeout=120)
        outputs = {r.key: (r.output, r.cached) for r in store.results(killed.id)}
        assert len(outputs) == 30
        assert set(outputs.values()) == {("v2", False)}, "no answer of v1 from the cache"
        assert "29/30 passed" in out
        assert resumed.returncode == 0, "29/30 reaches the 90% it began with"
        assert "as it began: --no-cache -j 2 --pass-threshold 0.9" in err
    finally:
        store.close()


SLOW_ON_SOME = """
import os, time

def call_api(prompt, options, context):
    with open("calls.log", "a") as log:
        log.write(prompt + "\\n")
    if "slow" in prompt:
        time.sleep(1.0)
    return prompt
"""


def test_retries_timeout_and_threshold_are_kept_unless_given_again(
    write: Callable[[str, str], Path],
    tmp_path: Path,
    store_url: str,
    run_cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPTEUR_DB", store_url)
    write("model.py", SLOW_ON_SOME)
    words = ["quick", "slow", "quick", "slow"]
    tests = "\n".join(f"  - vars: {{w: {w}{n}}}" for n, w in enumerate(words))
    write("suite.yaml", f"prompts: ['{{{{w}}}}']\nproviders: [file://model.py]\ntests:\n{tests}\n")
    # the library records its options as the command does: begun on the first case only
    options = prompteur.EvalOptions(timeout=0.3, max_retries=0, max_concurrency=3)
    first = prompteur.evaluate(
        "suite.yaml", store=store_url, options=options, select=lambda cell: cell.test == 0
    )
    assert first.summary.done == 1

    resumed = run_cli("eval", "--resume")
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls.count("slow1") == 1 and calls.count("slow3") == 1, "no retry"
    assert "as it began: --max-retries 0 --timeout 0.3 -j 3" in resumed.stderr
    store = Store(store_url)
    errors = {r.key: r.error for r in store.results(first.run_id) if r.error}
    assert sorted(errors) == ["0:0:1:0", "0:0:3:0"]
    assert set(errors.values()) == {"timed out after 0.3 s"}

    still = run_cli("eval", "--retry-errors", first.run_id)
    assert still.exit_code == 1
    assert "0:0:1:0" in {r.key for r in store.results(first.run_id) if r.error}
    mended = run_cli("eval", "--retry-errors", first.run_id, "--timeout", "5")
    assert mended.exit_code == 0, mended.output
    assert "as it began: --max-retries 0 -j 3\n" in mended.stderr, "--timeout given again"
    assert not [r for r in store.results(first.run_id) if r.error]
    store.close()


def test_the_library_resumes_without_the_cache_when_it_began_so(
    write: Callable[[str, str], Path], store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("model.py", "import os\ndef call_api(p, o, c):\n    return os.environ['ANSWER']\n")
    suite = {
        "prompts": ["{{n}}"],
        "providers": ["file://model.py"],
        "tests": [{"vars": {"n": n}} for n in range(4)],
    }
    monkeypatch.setenv("ANSWER", "old")
    prompteur.evaluate(suite, store=store_url)  # fills the cache with "old"
    monkeypatch.setenv("ANSWER", "new")
    begun = prompteur.evaluate(suite, store=store_url, cache=False, select=lambda c: c.test < 2)
    done = prompteur.evaluate(suite, store=store_url, run_id=begun.run_id)
    assert done.summary.done == 2
    assert {r.output for r in done.results} == {"new"}
    assert not any(r.cached for r in done.results)
