"""The embedded model's preflight: before the first cell, one token generated in a worker
process shows that this build of llama.cpp runs on this machine. A build that uses
instructions the CPU or the container refuses (AVX-512, AMX) dies there, and the run stops
before any other call with one line that names the cause and the fix.

A probe that passed is remembered per build and machine (the llama-cpp-python version and
native library files, the CPU's features, the model file), so later runs do not repeat it.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import sys
import tempfile
from pathlib import Path

import orjson

from ..core._errors import PermanentProviderError, ProviderUnavailableError
from ._local_pool import ModelLoadError, ModelSettings, WorkerDied, WorkerPool, generate

__all__ = ["PORTABLE_REBUILD", "probe_key", "probe_model"]

PORTABLE_REBUILD = (
    "make install LLAMA_BUILD=portable, or: CMAKE_ARGS='-DGGML_NATIVE=OFF -DGGML_AVX2=ON "
    "-DGGML_FMA=ON -DGGML_F16C=ON' pip install --force-reinstall --no-cache-dir "
    "llama-cpp-python"
)
#: loading the model and one token: seconds on any machine that can run it
PROBE_TIMEOUT_S = 180.0


def _cpu_features() -> str:
    """What this CPU offers: its flags line on Linux, else what the platform says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
            for line in file:
                if line.startswith(("flags", "Features")):
                    return line.strip()
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


def _native_files() -> list[str]:
    """llama-cpp-python's native libraries, by name, size and time (a rebuild changes them)."""
    spec = importlib.util.find_spec("llama_cpp")
    folders = [Path(f) / "lib" for f in (spec.submodule_search_locations or [])] if spec else []
    override = os.environ.get("LLAMA_CPP_LIB_PATH")
    if override:
        folders.append(Path(override))
    found = []
    for folder in folders:
        if folder.is_dir():
            for file in sorted(folder.iterdir()):
                stat = file.stat()
                found.append(f"{file}:{stat.st_size}:{stat.st_mtime_ns}")
    return found


def probe_key(settings: ModelSettings) -> str:
    """What a passed probe holds for: this build of llama.cpp, this machine, this model."""
    try:
        version = importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    model = settings.path.stat()
    parts = [
        version,
        sys.executable,
        *_native_files(),
        _cpu_features(),
        f"{settings.path}:{model.st_size}:{model.st_mtime_ns}",
        f"threads={settings.n_threads}",
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _memory() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache) / "prompteur" / "local-probes.json"


def _remembered() -> set[str]:
    try:
        keys = orjson.loads(_memory().read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return set()
    return {k for k in keys if isinstance(k, str)} if isinstance(keys, list) else set()


def _remember(key: str) -> None:
    """Add a passed probe (written whole and renamed: never a half-written file)."""
    path = _memory()
    keys = sorted(_remembered() | {key})[-64:]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as file:
            file.write(orjson.dumps(keys))
        os.replace(file.name, path)
    except OSError:
        pass  # not remembered: the next run probes again


async def probe_model(pool: WorkerPool, settings: ModelSettings) -> None:
    """Raise ProviderUnavailableError, naming the cause and the fix, unless the model
    generates one token in a worker process (or did before, with this build and machine)."""
    key = probe_key(settings)
    if key in _remembered():
        return
    name = settings.path.name
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await generate(
                pool, [{"role": "user", "content": "Hello"}], {"max_tokens": 1, "temperature": 0.0}
            )
    except TimeoutError:  # the generation was cancelled with it
        raise ProviderUnavailableError(
            f"the embedded model ({name}) did not generate one token within "
            f"{PROBE_TIMEOUT_S:.0f} s on this machine"
        ) from None
    except WorkerDied as exc:
        refused = exc.cause.startswith(("SIGILL", "SIGSEGV", "SIGBUS"))
        advice = (
            "; llama-cpp-python was likely built for instructions this CPU or container "
            f"refuses. Rebuild it portable: {PORTABLE_REBUILD}"
            if refused
            else ""
        )
        raise ProviderUnavailableError(
            f"the embedded model ({name}) cannot run on this machine: a one-token test "
            f"ended its process ({exc.cause}){advice}"
        ) from None
    except (ModelLoadError, PermanentProviderError) as exc:
        raise ProviderUnavailableError(
            f"the embedded model ({name}) cannot generate on this machine: {exc}"
        ) from None
    _remember(key)
