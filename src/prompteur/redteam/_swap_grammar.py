"""The grammar the counterfactual swaps respect: the words around a swapped word that tell
which form it has (English "her": object or determiner), French agreement that a swap would
break, and telling English from French."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "AGE_PATTERNS",
    "EN_CLOSED",
    "EN_PERCEPTION",
    "EN_WORDS",
    "FR_AGREEING_END",
    "FR_APPOSITION",
    "FR_COPULA",
    "FR_DETERMINERS",
    "FR_NOT_NOUN_FORMS",
    "FR_PERSON_PRONOUNS",
    "FR_PLURAL_BEFORE",
    "FR_POSSESSIVES",
    "FR_PREPOSITIONS",
    "FR_WORDS",
    "NEXT_TOKEN",
    "PREVIOUS_WORD",
    "Unswappable",
    "WordMatch",
    "detect_language",
    "next_token",
    "previous_word",
    "resolve",
    "same_case",
]


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


NEXT_TOKEN = re.compile(r"\s*([^\W_][\w'’-]*|[^\w\s])?")
PREVIOUS_WORD = re.compile(r"([^\W_][\w'’-]*)\s*$")

# English closed-class words: after "her"/"his" they mean a pronoun ("gave her the", "his
# and"), not a determiner before a noun ("her book")
EN_CLOSED = _wordset(
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
EN_PERCEPTION = _wordset(
    "saw see sees seen watch watched watches hear heard hears let lets make made makes help "
    "helped helps have had feel felt"
)
FR_PREPOSITIONS = _wordset(
    "à avec chez pour sans contre sur sous de entre vers par envers derrière devant après "
    "avant selon que et ou comme"
)
FR_POSSESSIVES = _wordset("ma ta sa mon ton son notre votre leur")
FR_PLURAL_BEFORE = _wordset("les des ces mes tes ses nos vos leurs aux plusieurs")
FR_DETERMINERS = {
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
FR_COPULA = re.compile(
    r"\b(est|était|sera|serait|sont|étaient|seront|suis|es|sommes|êtes|devenu|devenue|"
    r"semble|semblait|paraît|reste|restait|resté|restée)\b",
    re.IGNORECASE,
)
FR_AGREEING_END = re.compile(
    r"(é|ée|és|ées|eux|euse|if|ive|ien|ienne|el|elle|eur|euse|rice|ais|aise|ant|ante|ent|"
    r"ente|in|ine|on|onne|et|ette|er|ère|al|ale|aux|ales|eau|elle|u|ue|us|ues|it|ite|ot|ote)$"
)
# in French a person's gender shows in the pronouns that stand for them, in the article
# of a noun set beside the name ("Pierre, un adolescent") and in agreeing adjectives (after
# a copula): a name of the other gender would not agree with them
FR_PERSON_PRONOUNS = re.compile(r"\b(il|elle|ils|elles)\b", re.IGNORECASE)
FR_APPOSITION = re.compile(r"[\s,;:(–-]*(un|une|le|la|l'|ce|cette|mon|ma|son|sa)\b", re.I)
FR_NOT_NOUN_FORMS = frozenset({"subject", "subjects", "tonic", "tonics", "indirect", "address"})
EN_WORDS = _wordset(
    "the and is are of to in that it with for was on be this have you my his her he she i "
    "a an at from by we they"
)
FR_WORDS = _wordset(
    "le la les des est et une un du que qui pour avec dans pas il elle ce mon ma sa son ses "
    "mes je tu nous vous ils elles au aux sur à chez"
)

AGE_PATTERNS = {
    "en": re.compile(r"\b(\d{1,3})(?=(?:\s|-)years?(?:\s|-)old\b)|(?<=\baged )(\d{1,3})\b", re.I),
    "fr": re.compile(r"\b(\d{1,3})(?=\s+ans\b)"),
}


def detect_language(text: str) -> str:
    """``fr`` when French function words outnumber English ones, else ``en``."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    french = sum(w in FR_WORDS for w in words)
    return "fr" if french > sum(w in EN_WORDS for w in words) else "en"


class Unswappable(Exception):
    pass


@dataclass(frozen=True)
class WordMatch:
    start: int
    end: int
    text: str
    candidates: tuple[tuple[str, str], ...]  # (group, form)
    language: str

    @property
    def groups(self) -> set[str]:
        return {group for group, _ in self.candidates}


def same_case(model: str, word: str) -> str:
    if model.isupper() and len(model) > 1:
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def next_token(text: str, end: int) -> str | None:
    found = NEXT_TOKEN.match(text, end)
    return found.group(1).lower() if found and found.group(1) else None


def previous_word(text: str, start: int) -> re.Match[str] | None:
    return PREVIOUS_WORD.search(text, 0, start)


def resolve(language: str, forms: set[str], text: str, match: WordMatch) -> str:
    """The one form a word that stands for several has here, from the words around it."""
    after = next_token(text, match.end)
    before_match = previous_word(text, match.start)
    before = before_match.group(1).lower() if before_match else None
    content_next = after is not None and after[0].isalpha() and after not in EN_CLOSED
    if language == "en" and len(forms) == 2:
        # before a noun, a determiner ("her book") or an adjective ("a Christian school");
        # before a closed-class word or nothing, the pronoun or the noun ("for her", "a
        # Christian.")
        for before_noun in ("determiner", "adjective"):
            if before_noun in forms:
                (other,) = forms - {before_noun}
                if content_next and before in EN_PERCEPTION:
                    raise Unswappable(f"'{match.text}' after '{before}': pronoun or determiner?")
                return before_noun if content_next else other
    if language == "fr":
        if forms == {"tonic", "indirect"}:
            return "tonic" if before in FR_PREPOSITIONS else "indirect"
        if len(forms) == 2 and before in FR_POSSESSIVES and forms & {"spouse", "offspring"}:
            return next(iter(forms & {"spouse", "offspring"}))
        if len(forms) == 2 and forms & {"adult", "child"} and before not in FR_POSSESSIVES:
            return next(iter(forms & {"adult", "child"}))
        plural = {f for f in forms if f.endswith(("_mp", "_fp"))}
        if plural and len(plural) < len(forms):
            is_plural = before in FR_PLURAL_BEFORE or (before or "").endswith(("s", "x"))
            chosen = plural if is_plural else forms - plural
            if len(chosen) == 1:
                return next(iter(chosen))
    raise Unswappable(f"'{match.text}' can be {' or '.join(sorted(forms))} here")
