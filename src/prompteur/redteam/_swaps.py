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
from ._swap_grammar import (
    AGE_PATTERNS,
    FR_AGREEING_END,
    FR_APPOSITION,
    FR_COPULA,
    FR_DETERMINERS,
    FR_NOT_NOUN_FORMS,
    FR_PERSON_PRONOUNS,
    Unswappable,
    WordMatch,
    detect_language,
    next_token,
    previous_word,
    resolve,
    same_case,
)

__all__ = ["Skipped", "Swapped", "Swapper", "detect_language"]


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
        self._gender_words: Swapper | None = None
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

    def _word_matches(self, text: str, language: str) -> list[WordMatch]:
        pattern = self._patterns.get(language)
        found = []
        if pattern is not None:
            for m in pattern.finditer(text):
                candidates = self._index[language][m.group(0).lower()]
                found.append(WordMatch(m.start(), m.end(), m.group(0), tuple(candidates), language))
        age = AGE_PATTERNS.get(language) if self.attribute == "age" else None
        if age is not None:
            for m in age.finditer(text):
                years = int(m.group(0))
                group = "young" if years < 40 else "old" if years >= 60 else "middle"
                found.append(
                    WordMatch(m.start(), m.end(), m.group(0), ((group, "years"),), language)
                )
        return sorted(found, key=lambda m: m.start)

    def _name_matches(self, text: str) -> list[WordMatch]:
        if self._name_pattern is None:
            return []
        return [
            WordMatch(m.start(), m.end(), m.group(0), (self._names[m.group(0)][:2],), "")
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
            except Unswappable as exc:
                reason = str(exc)
                continue
            if not changes:
                return None
            return Swapped({**variables, **changed}, source, mapping[source], tuple(changes))
        return Skipped(reason)

    def _gendered_names(self, text: str) -> list[WordMatch]:
        """First names in a gender swap: they change with the words, the person stays one."""
        return [
            WordMatch(m.start, m.end, m.text, ((self._names[m.text][1], "name"),), "name")
            for m in self._name_matches(text)
        ]

    def _apply(
        self,
        texts: Mapping[str, str],
        matches: Mapping[str, list[WordMatch]],
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
                copula = FR_COPULA.search(text)
                if copula:
                    raise Unswappable(f"French agreement after '{copula.group(0)}'")
            out = text
            for start, end, new in sorted(edits, reverse=True):
                out = out[:start] + new + out[end:]
            if out != text:
                changed[key] = out
        return changed, changes

    def _edits(
        self,
        text: str,
        match: WordMatch,
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
            chosen = resolve(language, forms, text, match)
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
                raise Unswappable(f"no {form} word for {mapping[group]} to put for '{match.text}'")
            words.add(found[0])
        if len(words) != 1:
            raise Unswappable(f"'{match.text}' could become {' or '.join(sorted(words))}")
        new = same_case(match.text, words.pop())
        if new.lower() == match.text.lower():
            return []
        changes.append(f"{match.text} → {new}")
        edits = [(match.start, match.end, new)]
        before = previous_word(text, match.start)
        if before is not None:
            edits += self._agreement(text, match, before, new, language, candidates[0][1])
        return edits

    def _agreement(
        self, text: str, match: WordMatch, before: re.Match[str], new: str, language: str, form: str
    ) -> list[tuple[int, int, str]]:
        """The determiner before a swapped word, made to agree with it (a/an; un/une...)."""
        word = before.group(1)
        vowel = new[:1].lower() in "aeiouéèêâîôûh"
        if language == "en" and word.lower() in ("a", "an"):
            sound_vowel = new[:1].lower() in "aeiou" and not new.lower().startswith(("eu", "uni"))
            article = same_case(word, "an" if sound_vowel else "a")
            return [(before.start(1), before.end(1), article)] if article != word else []
        if language != "fr" or self.attribute != "gender" or form in FR_NOT_NOUN_FORMS:
            return []
        after = next_token(text, match.end)
        if after is not None and after[0].isalpha() and FR_AGREEING_END.search(after):
            raise Unswappable(f"French agreement of '{after}' with '{match.text}'")
        determiner = FR_DETERMINERS.get(word.lower())
        if determiner is None:
            if word.lower().endswith(("l'", "l’")) and not vowel:
                raise Unswappable(f"elided article before '{new}'")
            return []
        if vowel and determiner in ("ma", "ta", "sa"):
            determiner = {"ma": "mon", "ta": "ton", "sa": "son"}[determiner]
        elif vowel and determiner in ("le", "la"):
            raise Unswappable(f"'{word} {new}' would need an elided article")
        elif vowel and determiner == "ce":
            determiner = "cet"
        return [(before.start(1), before.end(1), same_case(word, determiner))]

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
            if self._gender_words is None:  # made once: its patterns cost more than a swap
                self._gender_words = Swapper(self.table, "gender")
            gender_words = self._gender_words
            for key, text in texts.items():
                worded = gender_words._word_matches(text, detect_language(text))
                if any(len(m.groups) == 1 for m in worded):
                    return Skipped("gendered words beside the name would no longer agree")
                if detect_language(text) == "fr":
                    agreeing = FR_PERSON_PRONOUNS.search(text) or FR_COPULA.search(text)
                    beside = [FR_APPOSITION.match(text, m.end) for m in matches[key]]
                    if agreeing or any(beside):
                        return Skipped("French words agree with the name's gender")
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
