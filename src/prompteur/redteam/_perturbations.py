"""Perturbations a reader shrugs off and a brittle prompt may not: typos, case, whitespace,
punctuation, a distracting sentence, homoglyphs. Each is a function of the text and a seeded
random generator, so a copy is the same at every run with the same seed."""

from __future__ import annotations

import functools
import random
import re
import string
from collections.abc import Callable

__all__ = ["LOCAL_PERTURBATIONS", "PERTURBATIONS", "perturb"]

# neighbouring keys on a QWERTY keyboard: the typos fingers make
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _row_index, _row in enumerate(_KEYBOARD_ROWS):
    for _i, _key in enumerate(_row):
        near = _row[max(0, _i - 1) : _i] + _row[_i + 1 : _i + 2]
        for _other in (_row_index - 1, _row_index + 1):
            if 0 <= _other < len(_KEYBOARD_ROWS):
                near += _KEYBOARD_ROWS[_other][max(0, _i - 1) : _i + 1]
        _NEIGHBOURS[_key] = near


@functools.cache
def _lookalikes() -> dict[str, tuple[str, ...]]:
    """Each ASCII letter's Cyrillic and Greek homoglyphs, from the Unicode confusables data
    that confusable-homoglyphs ships (the scripts most fonts draw alike with Latin)."""
    from confusable_homoglyphs import confusables

    found = {}
    for letter in string.ascii_letters:
        similar = sorted(
            {
                entry["c"]
                for entry in confusables.confusables_data.get(letter, ())
                if entry["n"].startswith(("CYRILLIC", "GREEK"))
                and len(entry["c"]) == 1
                and ord(entry["c"]) < 0x10000
            }
        )
        if similar:
            found[letter] = tuple(similar)
    return found


# sentences that change nothing a case asks (ours), in English and French
_DISTRACTORS = {
    "en": (
        "By the way, the weather has been lovely this week.",
        "I am writing this from a train, so forgive any delay.",
        "My cat keeps walking across the keyboard today.",
        "Unrelated, but the coffee machine at work is broken again.",
        "I read an article about lighthouses this morning.",
    ),
    "fr": (
        "Au passage, il a fait très beau cette semaine.",
        "J'écris depuis le train, excusez le retard éventuel.",
        "Mon chat n'arrête pas de marcher sur le clavier.",
        "Rien à voir, mais la machine à café est encore en panne.",
        "J'ai lu un article sur les phares ce matin.",
    ),
}
_WORD = re.compile(r"[^\W\d_]{4,}")


def _typos(text: str, rng: random.Random) -> str:
    """One typo in about one word of six (at least one): a swapped pair, a dropped, doubled
    or neighbouring key."""
    words = list(_WORD.finditer(text))
    if not words:
        return text
    chosen = rng.sample(words, max(1, len(words) // 6))
    out = text
    for match in sorted(chosen, key=lambda m: m.start(), reverse=True):
        word = match.group(0)
        i = rng.randrange(1, len(word) - 1)
        kind = rng.choice(("swap", "drop", "double", "near"))
        if kind == "swap":
            new = word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
        elif kind == "drop":
            new = word[:i] + word[i + 1 :]
        elif kind == "double":
            new = word[:i] + word[i] + word[i:]
        else:
            near = _NEIGHBOURS.get(word[i].lower(), "")
            new = word[:i] + (rng.choice(near) if near else word[i]) + word[i + 1 :]
        if new == word:  # a swap of two same letters: drop one instead
            new = word[:i] + word[i + 1 :]
        out = out[: match.start()] + new + out[match.end() :]
    return out


def _case(text: str, rng: random.Random) -> str:
    kind = rng.choice(("lower", "upper", "title", "shuffle"))
    if kind == "lower":
        return text.lower()
    if kind == "upper":
        return text.upper()
    if kind == "title":
        return text.title()
    return "".join(c.upper() if rng.random() < 0.3 else c.lower() for c in text)


def _whitespace(text: str, rng: random.Random) -> str:
    gaps = [m.start() for m in re.finditer(r" ", text)]
    out = text
    for position in sorted(rng.sample(gaps, max(1, len(gaps) // 4)) if gaps else [], reverse=True):
        out = out[:position] + rng.choice(("  ", "   ", "\t", " \n")) + out[position + 1 :]
    return f"{rng.choice(('', ' ', '  ', chr(10)))}{out}{rng.choice((' ', '  ', chr(10)))}"


def _punctuation(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5 and re.search(r"[.,;:!?'\"]", text):
        return re.sub(r"[.,;:!?\"]", "", text)
    return re.sub(r"([.!?])?\s*$", lambda m: rng.choice(("!!", "??", "...", " ?!")), text, count=1)


def _distractor(text: str, rng: random.Random) -> str:
    from ._swaps import detect_language

    sentence = rng.choice(_DISTRACTORS[detect_language(text)])
    return f"{sentence} {text}" if rng.random() < 0.5 else f"{text} {sentence}"


def _homoglyphs(text: str, rng: random.Random) -> str:
    """About one letter in five that has a lookalike becomes one of its lookalikes."""
    lookalikes = _lookalikes()
    places = [i for i, c in enumerate(text) if c in lookalikes]
    if not places:
        return text
    chosen = set(rng.sample(places, max(1, len(places) // 5)))
    return "".join(rng.choice(lookalikes[c]) if i in chosen else c for i, c in enumerate(text))


Perturbation = Callable[[str, random.Random], str]
LOCAL_PERTURBATIONS: dict[str, Perturbation] = {
    "typos": _typos,
    "case": _case,
    "whitespace": _whitespace,
    "punctuation": _punctuation,
    "distractor": _distractor,
    "homoglyphs": _homoglyphs,
}
#: every perturbation; ``paraphrase`` asks a model (``--paraphraser``)
PERTURBATIONS = (*LOCAL_PERTURBATIONS, "paraphrase")


def perturb(name: str, text: str, rng: random.Random) -> str:
    """``text`` under the perturbation ``name`` (not ``paraphrase``)."""
    return LOCAL_PERTURBATIONS[name](text, rng)
