"""An offensive-language classifier that runs offline, in English and French.

Our own: a word list (data/offensive.yaml) matched after undoing obfuscation (leetspeak,
lookalike letters, stretched letters, separators and asterisks inside a word), scored up
when the insult is aimed at someone ("you are a ...", "espèce de ..."). When
alt-profanity-check is installed (``pip install prompteur[redteam]``) and asked for, its
English model's probability counts where the word list found a listed word: alone, the
model flags benign text ("To kill a process, run kill -9": 0.8; "I hate Mondays": 0.91),
which bench/redteam_detectors.py measures."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from ._codecs import ZERO_WIDTH, from_homoglyphs

__all__ = ["OffensiveReading", "read_offensive"]


@dataclass(frozen=True, slots=True)
class OffensiveReading:
    score: float  # 0 harmless .. 1 offensive
    words: tuple[str, ...]
    by: str  # which classifier gave the score


@functools.cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        resources.files("prompteur.redteam").joinpath("data/offensive.yaml").read_text("utf-8")
    )
    return data


@functools.cache
def _words() -> tuple[str, ...]:
    """Every listed word, strong ones first, longer first."""
    data = _data()
    strong = sorted({w.lower() for w in data["strong"]}, key=len, reverse=True)
    mild = sorted({w.lower() for w in data["mild"]} - set(strong), key=len, reverse=True)
    return (*strong, *mild)


@functools.cache
def _lexicon() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    data = _data()
    words = sorted({w.lower() for w in data["strong"] + data["mild"]}, key=len, reverse=True)
    strong = sorted({w.lower() for w in data["strong"]}, key=len, reverse=True)
    word_re = re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")(?:s|es|e)?\b")
    strong_re = re.compile(r"\b(?:" + "|".join(map(re.escape, strong)) + r")(?:s|es|e)?\b")
    aimed = re.compile("|".join(data["aimed"]), re.IGNORECASE)
    return word_re, strong_re, aimed


_LEET = str.maketrans({"4": "a", "@": "a", "3": "e", "1": "i", "!": "i", "0": "o", "$": "s"})
# an asterisk or symbol standing for letters inside a word: f*ck, sh!t, c.o.n.n.a.r.d
_SEPARATED = re.compile(r"\b(?:\w[.\-_ ]){3,}\w\b")
_MASKED = re.compile(r"\b\w+[*#]+\w*(?!\w)|(?<!\w)[*#]+\w+\b")


def _unmask(token: str) -> str:
    """A word with letters starred out (f*ck, sh**, *ssh*le): the listed word it fits."""
    shape = re.compile(re.sub(r"[*#]+", lambda m: rf"\w{{1,{len(m.group(0)) + 1}}}", token))
    return next((w for w in _words() if shape.fullmatch(w)), token)


def _normalised(text: str) -> str:
    text = from_homoglyphs(text.translate({ord(c): None for c in ZERO_WIDTH})).lower()
    text = _MASKED.sub(lambda m: _unmask(m.group(0)), text)
    # the leet reading only inside words that mix letters and symbols
    text = re.sub(r"\b\w*[a-z][\w@$!]*\b", lambda m: m.group(0).translate(_LEET), text)
    text = _SEPARATED.sub(lambda m: re.sub(r"[.\-_ ]", "", m.group(0)), text)
    return re.sub(r"([a-z])\1{2,}", r"\1", text)  # fuuuuck → fuck


@functools.cache
def _trained_model() -> Any:
    try:
        from profanity_check import predict_prob
    except ImportError:
        return None
    return predict_prob


def model_available() -> bool:
    return _trained_model() is not None


def read_offensive(text: str, use_model: bool = False) -> OffensiveReading:
    """How offensive ``text`` reads, and the words that made it so."""
    word_re, strong_re, aimed = _lexicon()
    plain = _normalised(text)
    found = tuple(dict.fromkeys(m.group(0) for m in word_re.finditer(plain)))
    score = 0.0
    if found:
        strong = any(strong_re.fullmatch(w) for w in found)
        score = 0.7 if strong else 0.35
        score += 0.1 * (len(found) - 1)
        # aimed at someone: the address and the insult in one sentence
        sentences = re.split(r"(?<=[.!?\n])\s+", plain)
        if any(aimed.search(s) and word_re.search(s) for s in sentences):
            score += 0.3
        score = min(score, 1.0)
    reading = OffensiveReading(score, found, "word list")
    model = _trained_model() if use_model and found else None
    if model is not None:
        probability = float(model([text])[0])
        if probability > reading.score:
            return OffensiveReading(probability, found, "alt-profanity-check")
    return reading
