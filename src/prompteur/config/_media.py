"""Images, audio, video and PDFs named as ``file://`` vars: read as ``data:`` URLs (base64
with their MIME type), which a content part can carry to any provider that takes media.

Which files are media is decided by their extension, as promptfoo decides it."""

from __future__ import annotations

import base64
from pathlib import Path

from ..core._errors import Location, SuiteError
from ..core._trust import check_path
from ._reading import display_path

__all__ = ["MAX_MEDIA_BYTES", "MEDIA_TYPES", "read_media"]

MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".svg": "image/svg+xml",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".avif": "image/avif",
    ".heic": "image/heic",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".aiff": "audio/aiff",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mpeg": "video/mpeg",
    ".pdf": "application/pdf",
}

#: The largest media file a var may name: APIs take at most tens of megabytes inline, and
#: each case's vars are kept with its cells.
MAX_MEDIA_BYTES = 50 * 1024 * 1024


def read_media(path: Path, referrer: Location | None) -> str | None:
    """The file as a ``data:`` URL when its extension says it is media, else None."""
    mime = MEDIA_TYPES.get(path.suffix.lower())
    if mime is None:
        return None
    check_path(path, referrer)
    try:
        size = path.stat().st_size
        if size > MAX_MEDIA_BYTES:
            raise SuiteError(
                f"{display_path(path)} holds {size:,} bytes; a media var holds at most "
                f"{MAX_MEDIA_BYTES:,}",
                referrer,
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise SuiteError(f"file not found: {display_path(path)}", referrer) from None
    except IsADirectoryError:
        raise SuiteError(
            f"expected a file, found a directory: {display_path(path)}", referrer
        ) from None
    except OSError as exc:
        raise SuiteError(f"cannot read {display_path(path)}: {exc.strerror}", referrer) from None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
