"""``prompteur eval --watch`` runs the suite again when it is edited, until Ctrl-C."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

SUITE = """prompts: ['say {{w}}']
providers: [echo]
tests:
  - vars: {w: hi}
    assert: [{type: contains, value: hi}]
"""


def test_an_edit_runs_the_suite_again_and_ctrl_c_ends_it(tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    log = open(tmp_path / "out.log", "w")  # noqa: SIM115 (written into the watched folder)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "prompteur", "eval", "suite.yaml", "--watch", "--no-progress"],
        cwd=tmp_path,
        env={**os.environ, "PROMPTEUR_DB": f"sqlite:///{tmp_path / 'runs.db'}"},
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        # Ctrl-C reaches it as it would from a terminal, even when these tests run as a
        # background job (whose children start with SIGINT ignored)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: queue.Queue[str] = queue.Queue()
    assert watcher.stdout is not None
    threading.Thread(target=lambda: [lines.put(x) for x in watcher.stdout], daemon=True).start()

    def next_summary() -> str:
        while True:  # a hang fails by the queue's generous timeout, not a timed assertion
            line = lines.get(timeout=120)
            if " passed (" in line:
                return line

    try:
        assert next_summary().startswith("1/1 passed")
        suite.write_text(SUITE.replace("value: hi", "value: bye"))
        assert next_summary().startswith("0/1 passed")
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=60) == 130
    finally:
        if watcher.poll() is None:
            watcher.kill()
        log.close()
        watcher.stdout.close()
    # its own output, written beside the suite, started no run of its own
    assert (tmp_path / "out.log").read_text().count("running again") == 1
