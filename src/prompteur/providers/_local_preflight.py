"""What the ``local`` provider checks when it is created, so that a model file or a
llama-cpp-python install that cannot work stops the suite before the run instead of
erroring every cell. The checks are cheap: a few bytes read, a few files looked up."""

from __future__ import annotations

from pathlib import Path

__all__ = ["check_gguf_file"]

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
