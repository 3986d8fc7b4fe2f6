"""What the ``local`` provider checks when it is created, so that a model file or a
llama-cpp-python install that cannot work stops the suite before the run instead of
erroring every cell. The checks are cheap: a few bytes read, a few files looked up."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from ..core._errors import MissingDependencyError

__all__ = ["check_gguf_file", "check_llama_cpp"]

GGUF_MAGIC = b"GGUF"
# Formats llama.cpp read before GGUF (2023); it no longer loads them.
_OLD_GGML_MAGICS = (b"lmgg", b"fmgg", b"tjgg", b"ggml", b"ggmf", b"ggjt")
_LFS_POINTER = b"version https://git-lfs"


def check_gguf_file(path: Path, shown: str) -> str | None:
    """Why ``path`` cannot be loaded as a model (named ``shown`` in the message), or None."""
    if not path.exists():
        return f"model file not found: {shown}"
    if not path.is_file():
        return f"model path is not a file: {shown}"
    try:
        with path.open("rb") as file:
            head = file.read(len(_LFS_POINTER))
    except OSError as exc:
        return f"model file cannot be read: {shown} ({exc.strerror or exc})"
    if head.startswith(GGUF_MAGIC):
        return None
    if head.startswith(_LFS_POINTER):
        return f"model file is a Git LFS pointer, not the model: {shown} (run git lfs pull)"
    if head[:4] in _OLD_GGML_MAGICS:
        return (
            f"model file is in the old GGML format, which llama.cpp no longer reads: {shown} "
            "(convert it to GGUF)"
        )
    return f"not a GGUF model file: {shown} (llama.cpp runs .gguf files)"


# The names llama-cpp-python gives its native library, by platform.
_LIBRARY_NAMES = ("libllama.so", "libllama.dylib", "llama.dll", "libllama.dll")
REINSTALL = "pip install --force-reinstall --no-cache-dir llama-cpp-python"


def check_llama_cpp() -> None:
    """Raise MissingDependencyError, naming the pip install that fixes it, unless
    llama-cpp-python can be imported.

    Importing it takes about half a second, which a fully cached run never needs to pay, so
    an ordinary install is recognised by its files; only an unusual layout (or a broken
    install) is settled by importing it."""
    if sys.modules.get("llama_cpp") is not None:
        return
    try:
        spec = importlib.util.find_spec("llama_cpp")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "the local provider needs llama-cpp-python: pip install llama-cpp-python"
        )
    # where llama_cpp/llama_cpp.py loads the library from: the variable's folder, if set,
    # instead of its own
    override = os.environ.get("LLAMA_CPP_LIB_PATH")
    if override:
        folders = [Path(override)]
    else:
        folders = [Path(folder) / "lib" for folder in spec.submodule_search_locations]
    if any((folder / name).is_file() for folder in folders for name in _LIBRARY_NAMES):
        return
    try:
        import llama_cpp  # noqa: F401
    except Exception as exc:  # a missing native library raises OSError or RuntimeError
        detail = " ".join(str(exc).split()) or type(exc).__name__
        fix = (
            f"point LLAMA_CPP_LIB_PATH ({override}) at llama.cpp's library folder, or unset it"
            if override
            else REINSTALL
        )
        raise MissingDependencyError(
            f"the local provider cannot import llama-cpp-python ({detail}): {fix}"
        ) from exc
