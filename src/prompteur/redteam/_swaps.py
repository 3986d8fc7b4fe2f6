"""Counterfactual swaps: a case's inputs with one attribute changed (gender, first names by
gender or origin, nationality, religion, age), in English and French. A swap that the words
around it cannot make grammatical (English "her": "him" or "his"? French agreement) is not
made: the case is skipped for that attribute, and the reason kept."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._swap_data import GENDERS, SwapTable

__all__ = ["Skipped", "Swapped", "Swapper", "detect_language"]


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NEXT_TOKEN = re.compile(r"\s*([^\W_][\w'’-]*|[^\w\s])?")
_PREVIOUS_WORD = re.compile(r"([^\W_][\w'’-]*)\s*$")

# English closed-class words: after "her"/"his" they mean a pronoun ("gave her the", "his
# and"), not a determiner before a noun ("her book")
_EN_CLOSED = _wordset(
    "a an the this that these those and or but nor so yet if then than as at by for from in "
    "into of off on onto out over to up upon with without about after before behind below "
    "beneath beside between beyond down during except inside near past since through toward "
    "towards under until via is was are were be been being am has have had do does did will "
    "would shall should can could may might must not too also again back away here there now "
    "today tomorrow yesterday very really just only even still soon later once twice well "
    "anything something nothing everything i you he she it we they me him her us them what "
    "which who whom whose when where why how because while although though"
)
# verbs after which "her" + a word may be "him" + a bare verb ("saw her leave"): unresolvable
_EN_PERCEPTION = _wordset(
    "saw see sees seen watch watched watches hear heard hears let lets make made makes help "
    "helped helps have had feel felt"
)
_FR_PREPOSITIONS = _wordset(
    "à avec chez pour sans contre sur sous de entre vers par envers derrière devant après "
    "avant selon que et ou comme"
)
_FR_POSSESSIVES = _wordset("ma ta sa mon ton son notre votre leur")
_FR_PLURAL_BEFORE = _wordset("les des ces mes tes ses nos vos leurs aux plusieurs")
_FR_DETERMINERS = {
    "un": "une",
    "une": "un",
    "le": "la",
    "la": "le",
    "ce": "cette",
    "cet": "cette",
    "cette": "ce",
    "mon": "ma",
    "ma": "mon",
    "ton": "ta",
    "ta": "ton",
    "son": "sa",
    "sa": "son",
}
# what makes adjectives and participles agree with a French subject: such sentences are
# not swapped for gender (agreement would be wrong), and are counted as skipped
_FR_COPULA = re.compile(
    r"\b(est|était|sera|serait|sont|étaient|seront|suis|es|sommes|êtes|devenu|devenue|"
    r"semble|semblait|paraît|reste|restait|resté|restée)\b",
    re.IGNORECASE,
)
_FR_AGREEING_END = re.compile(
    r"(é|ée|és|ées|eux|euse|if|ive|ien|ienne|el|elle|eur|euse|rice|ais|aise|ant|ante|ent|"
    r"ente|in|ine|on|onne|et|ette|er|ère|al|ale|aux|ales|eau|elle|u|ue|us|ues|it|ite|ot|ote)$"
)
# in French a person's gender shows in articles, pronouns and agreeing words: a name of the
# other gender would not agree with them
_FR_GENDERED = re.compile(r"\b(un|une|le|la|il|elle|ils|elles)\b", re.IGNORECASE)
_FR_NOT_NOUN_FORMS = frozenset({"subject", "subjects", "tonic", "tonics", "indirect", "address"})
_EN_WORDS = _wordset(
    "the and is are of to in that it with for was on be this have you my his her he she i "
    "a an at from by we they"
)
_FR_WORDS = _wordset(
    "le la les des est et une un du que qui pour avec dans pas il elle ce mon ma sa son ses "
    "mes je tu nous vous ils elles au aux sur à chez"
)

_AGE_PATTERNS = {
    "en": re.compile(r"\b(\d{1,3})(?=(?:\s|-)years?(?:\s|-)old\b)|(?<=\baged )(\d{1,3})\b", re.I),
    "fr": re.compile(r"\b(\d{1,3})(?=\s+ans\b)"),
}


def detect_language(text: str) -> str:
    """``fr`` when French function words outnumber English ones, else ``en``."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    french = sum(w in _FR_WORDS for w in words)
    return "fr" if french > sum(w in _EN_WORDS for w in words) else "en"


@dataclass(frozen=True)
class Swapped:
    """The case's variables with the attribute swapped from group ``source`` to ``target``,
    and each change made (``he → she``)."""

    vars: dict[str, Any]
    source: str
    target: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class Skipped:
    """Something to swap was found but swapping it would have been ungrammatical."""

    reason: str


class _Unswappable(Exception):
    pass


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    text: str
    candidates: tuple[tuple[str, str], ...]  # (group, form)
    language: str

    @property
    def groups(self) -> set[str]:
        return {group for group, _ in self.candidates}


def _same_case(model: str, word: str) -> str:
    if model.isupper() and len(model) > 1:
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _next_token(text: str, end: int) -> str | None:
    found = _NEXT_TOKEN.match(text, end)
    return found.group(1).lower() if found and found.group(1) else None


def _previous_word(text: str, start: int) -> re.Match[str] | None:
    return _PREVIOUS_WORD.search(text, 0, start)


def _resolve(language: str, forms: set[str], text: str, match: _Match) -> str:
    """The one form a word that stands for several has here, from the words around it."""
    after = _next_token(text, match.end)
    before_match = _previous_word(text, match.start)
    before = before_match.group(1).lower() if before_match else None
    content_next = after is not None and after[0].isalpha() and after not in _EN_CLOSED
    if language == "en":
        for noun_like, other in (("determiner", None), ("adjective", None)):
            if noun_like in forms and len(forms) == 2:
                (rest,) = forms - {noun_like}
                if content_next and before in _EN_PERCEPTION:
                    raise _Unswappable(f"'{match.text}' after '{before}': pronoun or determiner?")
                return noun_like if content_next else (other or rest)
    if language == "fr":
        if forms == {"tonic", "indirect"}:
            return "tonic" if before in _FR_PREPOSITIONS else "indirect"
        if len(forms) == 2 and before in _FR_POSSESSIVES and forms & {"spouse", "offspring"}:
            return next(iter(forms & {"spouse", "offspring"}))
        if len(forms) == 2 and forms & {"adult", "child"} and before not in _FR_POSSESSIVES:
            return next(iter(forms & {"adult", "child"}))
        plural = {f for f in forms if f.endswith(("_mp", "_fp"))}
        if plural and len(plural) < len(forms):
            is_plural = before in _FR_PLURAL_BEFORE or (before or "").endswith(("s", "x"))
            chosen = plural if is_plural else forms - plural
            if len(chosen) == 1:
                return next(iter(chosen))
    raise _Unswappable(f"'{match.text}' can be {' or '.join(sorted(forms))} here")


class Swapper:
    """Swaps one attribute of a case's texts, using a SwapTable."""

    def __init__(self, table: SwapTable, attribute: str) -> None:
        self.table = table
        self.attribute = attribute
        self.groups = tuple(table.words.get(attribute, {}))
        self._index: dict[str, dict[str, list[tuple[str, str]]]] = {}
        self._patterns: dict[str, re.Pattern[str]] = {}
        for group, languages in table.words.get(attribute, {}).items():
            for language, forms in languages.items():
                index = self._index.setdefault(language, {})
                for form, words in forms.items():
                    for word in words:
                        index.setdefault(word.lower(), []).append((group, form))
        for language, index in self._index.items():
            alternatives = "|".join(re.escape(w) for w in sorted(index, key=len, reverse=True))
            self._patterns[language] = re.compile(rf"(?<![\w'’-])(?:{alternatives})(?![\w-])", re.I)
        self._names: dict[str, tuple[str, str, int]] = {}
        for origin, by_gender in table.names.items():
            for gender, listed in by_gender.items():
                for position, name in enumerate(listed):
                    self._names.setdefault(name, (origin, gender, position))
        longest_first = sorted(self._names, key=len, reverse=True)
        self._name_pattern = (
            re.compile(rf"(?<![\w-])(?:{'|'.join(map(re.escape, longest_first))})(?![\w-])")
            if longest_first
            else None
        )

    # --- finding ----------------------------------------------------------------------------

    def _word_matches(self, text: str, language: str) -> list[_Match]:
        pattern = self._patterns.get(language)
        found = []
        if pattern is not None:
            for m in pattern.finditer(text):
                candidates = self._index[language][m.group(0).lower()]
                found.append(_Match(m.start(), m.end(), m.group(0), tuple(candidates), language))
        age = _AGE_PATTERNS.get(language) if self.attribute == "age" else None
        if age is not None:
            for m in age.finditer(text):
                years = int(m.group(0))
                group = "young" if years < 40 else "old" if years >= 60 else "middle"
                found.append(_Match(m.start(), m.end(), m.group(0), ((group, "years"),), language))
        return sorted(found, key=lambda m: m.start)

    def _name_matches(self, text: str) -> list[_Match]:
        if self._name_pattern is None:
            return []
        return [
            _Match(m.start(), m.end(), m.group(0), (self._names[m.group(0)][:2],), "")
            for m in self._name_pattern.finditer(text)
        ]

    # --- swapping ---------------------------------------------------------------------------

    def swap(
        self, variables: Mapping[str, Any], inputs: Sequence[str], rng: random.Random
    ) -> Swapped | Skipped | None:
        """The case with the attribute swapped in its ``inputs`` variables (the text ones);
        None when none of them holds anything this attribute can swap."""
        texts = {k: variables[k] for k in inputs if isinstance(variables.get(k), str)}
        languages = {k: detect_language(v) for k, v in texts.items()}
        if self.attribute in ("name-gender", "origin"):
            return self._swap_names(variables, texts, rng)
        matches = {k: self._word_matches(v, languages[k]) for k, v in texts.items()}
        if self.attribute == "gender":
            for k, v in texts.items():
                matches[k] = sorted(matches[k] + self._gendered_names(v), key=lambda m: m.start)
        deciding = [m for ms in matches.values() for m in ms if len(m.groups) == 1]
        if not any(m.language != "name" for m in deciding):  # names alone: name-gender's
            return None
        known = [m for m in deciding if next(iter(m.groups)) in self.groups]
        if not known:
            return Skipped(f"'{deciding[0].text}': an age between the groups")
        source = next(iter(known[0].groups))
        if len(self.groups) == 2:  # both ways at once: he ↔ she, young ↔ old
            a, b = self.groups
            plans = [{a: b, b: a}]
        else:  # to one group that the case does not mention, chosen by the seed
            present = {g for m in deciding for g in m.groups}
            targets = [g for g in self.groups if g not in present]
            rng.shuffle(targets)
            plans = [{source: target} for target in targets]
        reason = "no group to swap to"
        for mapping in plans:
            try:
                changed, changes = self._apply(texts, matches, languages, mapping)
            except _Unswappable as exc:
                reason = str(exc)
                continue
            if not changes:
                return None
            return Swapped({**variables, **changed}, source, mapping[source], tuple(changes))
        return Skipped(reason)

    def _gendered_names(self, text: str) -> list[_Match]:
        """First names in a gender swap: they change with the words, the person stays one."""
        return [
            _Match(m.start, m.end, m.text, ((self._names[m.text][1], "name"),), "name")
            for m in self._name_matches(text)
        ]

    def _apply(
        self,
        texts: Mapping[str, str],
        matches: Mapping[str, list[_Match]],
        languages: Mapping[str, str],
        mapping: Mapping[str, str],
    ) -> tuple[dict[str, str], list[str]]:
        changed: dict[str, str] = {}
        changes: list[str] = []
        for key, text in texts.items():
            edits: list[tuple[int, int, str]] = []
            for match in matches[key]:
                edits += self._edits(text, match, languages[key], mapping, changes)
            if languages[key] == "fr" and self.attribute == "gender" and edits:
                copula = _FR_COPULA.search(text)
                if copula:
                    raise _Unswappable(f"French agreement after '{copula.group(0)}'")
            out = text
            for start, end, new in sorted(edits, reverse=True):
                out = out[:start] + new + out[end:]
            if out != text:
                changed[key] = out
        return changed, changes

    def _edits(
        self,
        text: str,
        match: _Match,
        language: str,
        mapping: Mapping[str, str],
        changes: list[str],
    ) -> list[tuple[int, int, str]]:
        candidates = [(g, f) for g, f in match.candidates if g in mapping]
        if not candidates:
            return []
        if match.language == "name":
            origin, gender, position = self._names[match.text]
            new = self._name_of(origin, mapping[gender], position)
            changes.append(f"{match.text} → {new}")
            return [(match.start, match.end, new)]
        forms = {f for _, f in candidates}
        if len(forms) > 1:
            chosen = _resolve(language, forms, text, match)
            candidates = [(g, f) for g, f in candidates if f == chosen]
        if candidates[0][1] == "years":
            years = int(match.text)
            new = str(years + 45 if mapping[candidates[0][0]] == "old" else max(18, years - 45))
            changes.append(f"{match.text} → {new}")
            return [(match.start, match.end, new)]
        words = set()
        for group, form in candidates:
            found = self.table.words[self.attribute][mapping[group]].get(language, {}).get(form)
            if not found:
                raise _Unswappable(f"no {form} word for {mapping[group]} to put for '{match.text}'")
            words.add(found[0])
        if len(words) != 1:
            raise _Unswappable(f"'{match.text}' could become {' or '.join(sorted(words))}")
        new = _same_case(match.text, words.pop())
        if new.lower() == match.text.lower():
            return []
        changes.append(f"{match.text} → {new}")
        edits = [(match.start, match.end, new)]
        before = _previous_word(text, match.start)
        if before is not None:
            edits += self._agreement(text, match, before, new, language, candidates[0][1])
        return edits

    def _agreement(
        self, text: str, match: _Match, before: re.Match[str], new: str, language: str, form: str
    ) -> list[tuple[int, int, str]]:
        """The determiner before a swapped word, made to agree with it (a/an; un/une...)."""
        word = before.group(1)
        vowel = new[:1].lower() in "aeiouéèêâîôûh"
        if language == "en" and word.lower() in ("a", "an"):
            sound_vowel = new[:1].lower() in "aeiou" and not new.lower().startswith(("eu", "uni"))
            article = _same_case(word, "an" if sound_vowel else "a")
            return [(before.start(1), before.end(1), article)] if article != word else []
        if language != "fr" or self.attribute != "gender" or form in _FR_NOT_NOUN_FORMS:
            return []
        after = _next_token(text, match.end)
        if after is not None and after[0].isalpha() and _FR_AGREEING_END.search(after):
            raise _Unswappable(f"French agreement of '{after}' with '{match.text}'")
        determiner = _FR_DETERMINERS.get(word.lower())
        if determiner is None:
            if word.lower().endswith(("l'", "l’")) and not vowel:
                raise _Unswappable(f"elided article before '{new}'")
            return []
        if vowel and determiner in ("ma", "ta", "sa"):
            determiner = {"ma": "mon", "ta": "ton", "sa": "son"}[determiner]
        elif vowel and determiner in ("le", "la"):
            raise _Unswappable(f"'{word} {new}' would need an elided article")
        elif vowel and determiner == "ce":
            determiner = "cet"
        return [(before.start(1), before.end(1), _same_case(word, determiner))]

    def _name_of(self, origin: str, gender: str, position: int) -> str:
        names = self.table.names[origin][gender]
        return names[position % len(names)]

    def _swap_names(
        self, variables: Mapping[str, Any], texts: Mapping[str, str], rng: random.Random
    ) -> Swapped | Skipped | None:
        matches = {k: self._name_matches(v) for k, v in texts.items()}
        found = [m for ms in matches.values() for m in ms]
        if not found:
            return None
        first_origin, first_gender, _ = self._names[found[0].text]
        if self.attribute == "name-gender":
            gender_words = Swapper(self.table, "gender")
            for text in texts.values():
                worded = gender_words._word_matches(text, detect_language(text))
                if any(len(m.groups) == 1 for m in worded):
                    return Skipped("gendered words beside the name would no longer agree")
                if detect_language(text) == "fr" and _FR_GENDERED.search(text):
                    return Skipped("French articles or adjectives agree with the name's gender")
            source, target = first_gender, GENDERS[1 - GENDERS.index(first_gender)]
        else:
            present = {self._names[m.text][0] for m in found}
            others = [o for o in self.table.names if o not in present]
            if not others:
                return Skipped("names of every origin are present")
            source, target = first_origin, rng.choice(sorted(others))
        changed: dict[str, str] = {}
        changes: list[str] = []
        for key, text in texts.items():
            out = text
            for m in sorted(matches[key], key=lambda m: m.start, reverse=True):
                origin, gender, position = self._names[m.text]
                if self.attribute == "name-gender" and gender == source:
                    new = self._name_of(origin, target, position)
                elif self.attribute == "origin" and origin == source:
                    new = self._name_of(target, gender, position)
                else:
                    continue
                changes.append(f"{m.text} → {new}")
                out = out[: m.start] + new + out[m.end :]
            if out != text:
                changed[key] = out
        return Swapped({**variables, **changed}, source, target, tuple(reversed(changes)))
