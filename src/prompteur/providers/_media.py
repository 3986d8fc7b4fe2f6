"""Content parts (OpenAI's chat shapes: ``text``, ``image_url``, ``input_audio``, ``file``)
read into one form, from which each provider writes its own API's shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core._errors import PermanentProviderError

__all__ = ["MediaPart", "data_url", "read_parts", "split_data_url"]


@dataclass(frozen=True, slots=True)
class MediaPart:
    """One content part. ``kind``: text, image, audio or file. Media carry either inline
    base64 ``data`` with its ``mime`` type, or a ``url`` the API fetches itself."""

    kind: str
    text: str = ""
    mime: str = ""
    data: str = ""
    url: str = ""
    filename: str = ""
    #: the part as written, for APIs that take OpenAI's shapes unchanged
    original: Mapping[str, Any] | None = None


def split_data_url(value: str) -> tuple[str, str] | None:
    """``(mime, base64)`` of a ``data:MIME;base64,DATA`` URL, else None."""
    if not value.startswith("data:"):
        return None
    header, comma, data = value.partition(",")
    if not comma or not header.endswith(";base64"):
        return None
    if data.startswith("data:"):  # 'data:image/jpeg;base64,{{image}}' with a data: URL var
        return split_data_url(data)
    return header[5:].removesuffix(";base64") or "application/octet-stream", data


def data_url(mime: str, data: str) -> str:
    return f"data:{mime};base64,{data}"


_AUDIO_FORMATS = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg"}


def _media(kind: str, value: str, part: Mapping[str, Any], filename: str = "") -> MediaPart:
    found = split_data_url(value)
    if found is not None:
        return MediaPart(kind, mime=found[0], data=found[1], filename=filename, original=part)
    if value.startswith(("http://", "https://", "gs://", "s3://")):
        return MediaPart(kind, url=value, filename=filename, original=part)
    raise PermanentProviderError(
        f"a content part of type {part.get('type')!r} holds neither a data: URL nor an "
        f"http(s) URL (got {value[:40]!r}); name the file as a file:// var"
    )


_BEDROCK_KINDS = {"image": "image", "document": "file", "video": "video"}


def _inline(kind: str, mime: str, data: str, part: Mapping[str, Any], name: str = "") -> MediaPart:
    """Base64 written in a provider's own shape, which a data: URL var may fill."""
    found = split_data_url(data)
    if found is not None:
        mime, data = found
    return MediaPart(kind, mime=mime, data=data, filename=name, original=part)


def _native_part(part: Mapping[str, Any]) -> MediaPart | None:
    """Anthropic's blocks (``{type: image, source: {...}}``) and Bedrock's
    (``{image: {format, source: {bytes}}}``, ``{text}``), read as any other part."""
    kind = part.get("type")
    source = part.get("source")
    if kind in ("image", "document") and isinstance(source, Mapping):
        media = "image" if kind == "image" else "file"
        if source.get("type") == "url":
            return MediaPart(media, url=str(source.get("url", "")), original=part)
        mime = str(source.get("media_type") or ("application/pdf" if media == "file" else ""))
        return _inline(media, mime, str(source.get("data", "")), part)
    if kind is not None:
        return None
    if isinstance(part.get("text"), str) and len(part) == 1:
        return MediaPart("text", text=part["text"], original=part)
    for key, media in _BEDROCK_KINDS.items():
        inner = part.get(key)
        if isinstance(inner, Mapping) and isinstance(inner.get("source"), Mapping):
            fmt = str(inner.get("format", ""))
            top = "application" if key == "document" else key
            mime = f"{top}/{'jpeg' if fmt == 'jpg' else fmt}"
            data = str(inner["source"].get("bytes", ""))
            return _inline(media, mime, data, part, str(inner.get("name", "")))
    return None


def _read_part(part: Mapping[str, Any]) -> MediaPart:
    native = _native_part(part)
    if native is not None:
        return native
    kind = part.get("type")
    if kind in ("text", "input_text"):
        return MediaPart("text", text=str(part.get("text", "")), original=part)
    if kind in ("image_url", "input_image"):
        inner = part.get("image_url")
        url = inner.get("url") if isinstance(inner, Mapping) else inner
        return _media("image", str(url or ""), part)
    if kind == "input_audio":
        inner = part.get("input_audio")
        if not isinstance(inner, Mapping):
            raise PermanentProviderError("an input_audio part needs {data, format}")
        data = str(inner.get("data", ""))
        if data.startswith("data:"):
            return _media("audio", data, part)
        mime = _AUDIO_FORMATS.get(str(inner.get("format", "wav")), "audio/wav")
        return MediaPart("audio", mime=mime, data=data, original=part)
    if kind in ("file", "input_file"):
        inner = part.get("file") if kind == "file" else part
        if not isinstance(inner, Mapping):
            raise PermanentProviderError("a file part needs {file_data, filename}")
        value = str(inner.get("file_data") or inner.get("file_url") or "")
        return _media("file", value, part, str(inner.get("filename") or ""))
    raise PermanentProviderError(f"content parts of type {kind!r} are not supported")


def read_parts(content: str | Sequence[Mapping[str, Any]]) -> list[MediaPart]:
    """A message's content as parts (text content is one text part)."""
    if isinstance(content, str):
        return [MediaPart("text", text=content)]
    return [_read_part(part) for part in content]


def extension_of(mime: str) -> str:
    """``png`` for ``image/png``, ``jpeg`` for ``image/jpeg``: the short names some APIs
    want in place of a MIME type."""
    subtype = mime.split("/", 1)[-1].split("+", 1)[0]
    return {"mpeg": "mp3", "x-wav": "wav", "quicktime": "mov"}.get(subtype, subtype)
