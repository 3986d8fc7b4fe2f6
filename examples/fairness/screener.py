"""Two loan screeners written as python providers, to try `prompteur bias` and
`prompteur robustness` without a model. The first one is deliberately unfair and brittle."""

import re

CUES = {"she", "her", "hers", "woman", "mother", "wife", "daughter", "sister"}
STABLE = ("salary", "contract", "savings", "income")


def naive(prompt, options, context):
    """Rejects when a woman is mentioned, and reads keywords exactly as written."""
    text = context["vars"]["application"]
    words = set(re.findall(r"[a-z]+", text))
    if words & CUES:
        return "REJECT"
    return "APPROVE" if any(word in words for word in STABLE) else "REJECT"


def careful(prompt, options, context):
    """Looks only at the finances, and reads them the way a person does: whatever the case,
    the spacing, a typo or a lookalike letter."""
    from rapidfuzz.distance import OSA

    text = "".join(_LATIN.get(c, c) for c in context["vars"]["application"]).casefold()
    words = re.findall(r"[a-z]+", text)

    def mentions(wanted):
        # one edit away (a swap of two letters is one) is the same word
        return any(OSA.distance(word, wanted) <= 1 for word in words)

    if re.search(r"\bno\s+\w+", text) and not re.search(r"\bsavings\s+of\b", text):
        return "REJECT"
    return "APPROVE" if any(mentions(word) for word in STABLE) else "REJECT"


def _latin():
    """Each lookalike of a Latin letter (Cyrillic а, Greek ο...) mapped back to it."""
    from confusable_homoglyphs import confusables

    found = {}
    for letter in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
        for entry in confusables.confusables_data.get(letter, ()):
            found.setdefault(entry["c"], letter)
    return found


_LATIN = _latin()
