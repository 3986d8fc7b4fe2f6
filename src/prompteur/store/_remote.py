"""A team server as a store: what ``prompteur --server URL`` reads and writes over HTTP
instead of a database (the token from ``PROMPTEUR_TOKEN``), so a team member needs no
database password. The server side is ``web/_sync_routes.py``; both speak the JSON of ``_wire.py``.

``RemoteStore`` answers what ``runs``, ``show``, ``compare``, ``history`` and ``rate`` ask
of a Store; ``RemoteRegistry`` resolves a suite's registered prompts; ``RemoteRunSink``
records a run as it goes, in batches, with a heartbeat, as StoreSink does locally.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ..core._json import dumps
from ..core._results import CellResult, HumanVerdict
from ..core._secrets import redact
from ..core._sinks import RunFinished, RunStarted
from ..core._summary import RunSummary, SummaryBuilder
from ._errors import StoreError
from ._liveness import HEARTBEAT_SECONDS
from ._records import CellOutcome, RunInfo
from ._registry_records import PromptVersion
from ._reviews import Comment
from ._rows import AssertionsJson, result_row
from ._sink import _BatchWriter
from ._wire import cell_from_wire, plan_to_wire, run_from_wire, version_from_wire

if TYPE_CHECKING:
    import httpx

    from ._planned import PlannedRun

__all__ = [
    "RemoteError",
    "RemoteRegistry",
    "RemoteRunSink",
    "RemoteStore",
    "ServerClient",
]


class RemoteError(StoreError):
    """The team server refused a request, or could not be reached."""


class ServerClient:
    """JSON over HTTP to a team server, signed in by an API token."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 120.0) -> None:
        import httpx

        if not token:
            raise RemoteError(
                f"--server {url} needs an API token in PROMPTEUR_TOKEN "
                "(an admin makes one with 'prompteur tokens create NAME')"
            )
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=timeout,
        )
        # a client dropped without close() still closes its connections
        weakref.finalize(self, self._http.close)

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        import httpx

        query = {k: v for k, v in params.items() if v is not None}
        content = dumps(body).encode() if body is not None else None
        try:
            response: httpx.Response = self._http.request(
                method, path, content=content, params=query
            )
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach the server {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise self._refusal(response)
        return orjson.loads(response.content) if response.content else None

    def lines(self, path: str, **params: Any) -> Iterator[Any]:
        """The JSON lines the server streams at ``path``, read as they arrive."""
        import httpx

        query = {k: v for k, v in params.items() if v is not None}
        try:
            with self._http.stream("GET", path, params=query) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._refusal(response)
                for line in response.iter_lines():
                    if line:
                        yield orjson.loads(line)
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach the server {self.url}: {exc}") from None

    def _refusal(self, response: httpx.Response) -> RemoteError:
        try:
            data = response.json()
            message = data.get("error") or data.get("detail")
        except ValueError:
            message = response.text[:200]
        return RemoteError(f"server {self.url}: {message} (HTTP {response.status_code})")

    def close(self) -> None:
        self._http.close()


# --- reading ------------------------------------------------------------------------------------


class RemoteStore:
    """The parts of a Store that the reading commands and ``rate`` use, on a team server."""

    def __init__(self, url: str, token: str | None) -> None:
        self.client = ServerClient(url, token)
        self.url = self.client.url
        self.display_url = self.client.url

    def close(self) -> None:
        self.client.close()

    def run(self, ref: str) -> RunInfo:
        return run_from_wire(self.client.call("GET", f"/api/sync/runs/{ref}"))

    def find_run(self, run_id: str) -> RunInfo | None:
        try:
            info = self.run(run_id)
        except RemoteError:
            return None
        return info if info.id == run_id else None

    def runs(
        self,
        *,
        suite: str | None = None,
        limit: int | None = 20,
        statuses: Iterable[str] | None = None,
    ) -> list[RunInfo]:
        found = self.client.call(
            "GET",
            "/api/sync/runs",
            suite=suite,
            limit=limit,
            status=",".join(statuses) if statuses is not None else None,
        )
        return [run_from_wire(info) for info in found]

    def results(
        self, run_id: str, *, batch: int = 1000, human: bool = True, cell_key: str | None = None
    ) -> Iterator[CellResult]:
        path = f"/api/sync/runs/{run_id}/results"
        for cell in self.client.lines(path, human=str(human).lower(), cell=cell_key):
            yield cell_from_wire(cell)

    def outcomes(
        self, run_id: str, *, prompt_positions: set[int] | None = None
    ) -> Iterator[CellOutcome]:
        positions = ",".join(map(str, sorted(prompt_positions))) if prompt_positions else None
        for cell in self.client.lines(f"/api/sync/runs/{run_id}/outcomes", prompts=positions):
            yield CellOutcome(**cell)

    def rate(
        self,
        run_id: str,
        cell_key: str,
        *,
        passed: bool,
        author: str,
        score: float | None = None,
        comment: str | None = None,
    ) -> HumanVerdict:
        """The server records the verdict under the token's user, whatever ``author`` says."""
        body = {"cell": cell_key, "passed": passed, "score": score, "comment": comment}
        return HumanVerdict(**self.client.call("POST", f"/api/sync/runs/{run_id}/ratings", body))

    def add_comment(self, run_id: str, cell_key: str, text: str, *, author: str) -> Comment:
        """The server records the comment under the token's user, whatever ``author`` says."""
        kept = self.client.call(
            "POST", f"/api/runs/{run_id}/cells/{cell_key}/comments", {"text": text}
        )
        return Comment(kept["author"], kept["text"], kept["created_at"])

    def delete_run(self, run_id: str) -> None:
        """Delete a run on the server (editors; the server's audit log keeps who did)."""
        self.client.call("DELETE", f"/api/runs/{run_id}")

    def summary(self, run_id: str, *, max_failures: int = 50) -> RunSummary:
        info = self.run(run_id)
        planned = info.total_cells // max(1, len(info.prompts) * len(info.providers))
        builder = SummaryBuilder(
            info.description, info.prompts, info.providers, planned, max_failures
        )
        for result in self.results(info.id):
            builder.add(result)
        summary = builder.summary
        summary.duration_s = info.duration_s or 0.0
        summary.interrupted = info.status != "finished"
        return summary


class RemoteRegistry:
    """Resolves a suite's registered prompts (``name@label``) on the team server."""

    def __init__(self, client: ServerClient) -> None:
        self.client = client

    def get(self, reference: str) -> PromptVersion:
        from ._registry_records import RegistryError

        try:
            return version_from_wire(self.client.call("GET", f"/api/sync/prompts/{reference}"))
        except RemoteError as exc:
            raise RegistryError(str(exc)) from None


# --- recording ----------------------------------------------------------------------------------


class RemoteRunSink:
    """Records a run on the team server as it goes: the run when it starts, its cells in
    batches (at ``batch_size`` cells, or ``flush_seconds`` after the first waiting one)
    sent by a thread off the event loop, a heartbeat while no batch goes, and its end."""

    def __init__(
        self,
        client: ServerClient,
        plan: PlannedRun,
        *,
        suite_name: str | None,
        suite_path: str | None,
        options: Mapping[str, Any],
        git_commit: str | None,
        batch_size: int = 500,
        flush_seconds: float = 1.0,
    ) -> None:
        self.client = client
        self.plan = plan
        self.suite_name = suite_name
        self.suite_path = suite_path
        self.options = dict(options)
        self.git_commit = git_commit
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.run_id: str | None = None
        self.info: RunInfo | None = None
        self._rows: list[dict[str, Any]] = []
        self._oldest = 0.0
        self._encode = AssertionsJson()
        self._clock = 0.0
        self._writer: _BatchWriter | None = None
        self._stop = threading.Event()
        self._beating: threading.Thread | None = None

    def _duration(self) -> float:
        return time.perf_counter() - self._clock

    def on_start(self, event: RunStarted) -> None:
        self.run_id = event.run_id
        self._clock = time.perf_counter()
        body = {
            "run_id": event.run_id,
            "plan": plan_to_wire(self.plan, self.suite_path),
            "suite_name": redact(self.suite_name),
            "suite_path": self.suite_path,
            "options": redact({**event.options, **self.options}),
            "git_commit": self.git_commit,
            "started_at": event.started_at,
        }
        self.client.call("POST", "/api/sync/runs", body)
        self._writer = _BatchWriter(self._send, event.run_id)  # type: ignore[arg-type]
        self._beating = threading.Thread(
            target=self._beat, name=f"heartbeat {event.run_id}", daemon=True
        )
        self._beating.start()

    def _send(self, rows: list[dict[str, Any]]) -> None:
        body = {"rows": rows, "duration_s": self._duration()}
        self.client.call("POST", f"/api/sync/runs/{self.run_id}/cells", body)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._send([])
            except Exception:  # a missed beat only makes the run look stale
                continue

    def on_result(self, result: CellResult) -> None:
        assert self.run_id is not None
        if not self._rows:
            self._oldest = time.monotonic()
        key = self.plan.tests[result.test_index].key
        row = result_row(self.run_id, result, key, self._encode)
        self._rows.append(orjson.loads(dumps(row)))
        if (
            len(self._rows) >= self.batch_size
            or time.monotonic() - self._oldest >= self.flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        if self._rows and self._writer is not None:
            rows, self._rows = self._rows, []
            self._writer.put(rows)  # type: ignore[arg-type]

    def on_finish(self, event: RunFinished) -> None:
        self._stop.set()
        if self._beating is not None:
            self._beating.join()
        try:
            self.flush()
        finally:
            if self._writer is not None:
                writer, self._writer = self._writer, None
                writer.close()
        body = {"interrupted": event.summary.interrupted, "duration_s": event.summary.duration_s}
        self.info = run_from_wire(
            self.client.call("POST", f"/api/sync/runs/{event.run_id}/finish", body)
        )
