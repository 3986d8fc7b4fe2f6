"""Text encodings that attacks hide behind and leaks come out in: base64, rot13, hex,
leetspeak, homoglyphs, zero-width and Unicode tag characters. The strategies encode with
them; the detectors undo them, so a canary that comes back encoded is still seen."""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import random
import re
import unicodedata
from collections.abc import Callable, Iterator

__all__ = [
    "DECODINGS",
    "decoded_views",
    "from_homoglyphs",
    "from_leet",
    "squeeze",
    "to_base64",
    "to_hex",
    "to_homoglyphs",
    "to_leet",
    "to_rot13",
    "to_tags",
    "with_zero_width",
]

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_ZERO_WIDTH_RE = re.compile(f"[{ZERO_WIDTH}\u00ad]")
_TAG_BASE = 0xE0000  # U+E0020..U+E007E mirror printable ASCII, invisible on screen

_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "b": "8", "g": "9"}
_UNLEET = {
    "4": "a",
    "@": "a",
    "3": "e",
    "1": "i",
    "!": "i",
    "|": "i",
    "0": "o",
    "5": "s",
    "$": "s",
    "7": "t",
    "+": "t",
    "8": "b",
    "9": "g",
}


def to_base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def to_hex(text: str) -> str:
    return text.encode().hex()


def to_rot13(text: str) -> str:
    return codecs.encode(text, "rot13")


def to_leet(text: str) -> str:
    return "".join(_LEET.get(c.lower(), c) for c in text)


def from_leet(text: str) -> str:
    return "".join(_UNLEET.get(c, c) for c in text)


def to_tags(text: str) -> str:
    """The text in Unicode tag characters: invisible, but read by many tokenizers."""
    return "".join(chr(_TAG_BASE + ord(c)) if 0x20 <= ord(c) < 0x7F else c for c in text)


def _from_tags(text: str) -> str:
    return "".join(chr(ord(c) - _TAG_BASE) if 0xE0020 <= ord(c) <= 0xE007E else c for c in text)


def with_zero_width(text: str, rng: random.Random) -> str:
    """Zero-width characters between the letters of each word: the same text on screen,
    other tokens for a filter."""
    out = []
    for char in text:
        out.append(char)
        if char.isalpha():
            out.append(rng.choice(ZERO_WIDTH[:4]))
    return "".join(out)


@functools.cache
def _homoglyph_tables() -> tuple[dict[str, str], dict[str, list[str]]]:
    """(lookalike → ASCII letter, ASCII letter → lookalikes from Cyrillic and Greek), from
    the Unicode confusables data that confusable-homoglyphs ships."""
    from confusable_homoglyphs import confusables

    to_ascii: dict[str, str] = {}
    lookalikes: dict[str, list[str]] = {}
    for char, entries in confusables.confusables_data.items():
        if len(char) != 1:
            continue
        if char.isascii() and char.isalpha():
            found = [
                e["c"]
                for e in entries
                if len(e["c"]) == 1
                and e["c"].isalpha()
                and e["n"].split()[0] in ("CYRILLIC", "GREEK")
            ]
            if found:
                lookalikes[char] = found
        elif not char.isascii():
            ascii_ = [e["c"] for e in entries if e["c"].isascii() and e["c"].isalnum()]
            if ascii_ and len(ascii_[0]) == 1:
                to_ascii[char] = ascii_[0]
    return to_ascii, lookalikes


def to_homoglyphs(text: str, rng: random.Random, share: float = 0.5) -> str:
    """About ``share`` of the letters swapped for Cyrillic or Greek lookalikes."""
    _, lookalikes = _homoglyph_tables()
    return "".join(
        rng.choice(lookalikes[c]) if c in lookalikes and rng.random() < share else c for c in text
    )


def from_homoglyphs(text: str) -> str:
    """Lookalike letters (and fullwidth or mathematical forms) back to ASCII."""
    to_ascii, _ = _homoglyph_tables()
    text = unicodedata.normalize("NFKC", text)
    return "".join(to_ascii.get(c, c) for c in text)


def squeeze(text: str) -> str:
    """Letters and digits only, case-folded, accents dropped: how leaks are compared, so
    that 'K-E-S T R E L' and 'kestrel' are one."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text.casefold() if c.isalnum() and c.isascii())


_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")
_HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2}[\s:]?){6,}")


def _decode_base64_runs(text: str) -> str:
    found = []
    for run in _BASE64_RUN.findall(text):
        padded = run + "=" * (-len(run) % 4)
        try:
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=False)
            found.append(raw.decode("utf-8"))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
    return "\n".join(found)


def _decode_hex_runs(text: str) -> str:
    found = []
    for run in _HEX_RUN.findall(text):
        digits = re.sub(r"[\s:]", "", run)
        try:
            found.append(bytes.fromhex(digits[: len(digits) // 2 * 2]).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
    return "\n".join(found)


def _plain(text: str) -> str:
    return _from_tags(_ZERO_WIDTH_RE.sub("", text))


#: Each way an output may hide what it says, by name (what a detector's reason reports).
DECODINGS: dict[str, Callable[[str], str]] = {
    "base64": _decode_base64_runs,
    "hex": _decode_hex_runs,
    "rot13": to_rot13,
    "leetspeak": from_leet,
    "homoglyphs": from_homoglyphs,
}


def decoded_views(output: str) -> Iterator[tuple[str, str]]:
    """The output as it reads, then each decoding of it that differs: (how, text). Zero-
    width and tag characters are dropped in all of them."""
    plain = _plain(output)
    yield "as written" if plain == output else "hidden characters removed", plain
    for name, decode in DECODINGS.items():
        view = decode(plain)
        if view and view != plain:
            yield f"after {name} decoding", view
