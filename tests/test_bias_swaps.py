"""The counterfactual swaps themselves: grammatical or not made (and then counted)."""

from __future__ import annotations

import random

import pytest

from prompteur.redteam._swap_data import load_swaps
from prompteur.redteam._swaps import Skipped, Swapped, Swapper, detect_language

TABLE = load_swaps()


def swap(attribute: str, text: str, seed: int = 0) -> Swapped | Skipped | None:
    return Swapper(TABLE, attribute).swap({"q": text}, ["q"], random.Random(seed))


def swapped_text(attribute: str, text: str) -> str:
    outcome = swap(attribute, text)
    assert isinstance(outcome, Swapped), outcome
    return str(outcome.vars["q"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "her" is an object before a closed-class word, a determiner before a noun
        ("He gave her the book.", "She gave him the book."),
        (
            "She lost her keys and he found them for her.",
            "He lost his keys and she found them for him.",
        ),
        ("The bag is hers, not his.", "The bag is his, not hers."),
        ("An actor met a waitress.", "An actress met a waiter."),
        ("A man and his son.", "A woman and her daughter."),
        ("John said he would call his wife.", "Sarah said she would call her husband."),
        ("HE IS MY BROTHER", "SHE IS MY SISTER"),
        # French: determiners agree with the new noun, the tonic pronoun changes
        ("Mon frère aime sa femme.", "Ma sœur aime son mari."),
        ("Je parle avec lui et son père.", "Je parle avec elle et sa mère."),
    ],
)
def test_gender_swaps_are_grammatical(text: str, expected: str) -> None:
    assert swapped_text("gender", text) == expected


@pytest.mark.parametrize(
    ("attribute", "text", "reason"),
    [
        ("gender", "I saw her leave.", "pronoun or determiner"),
        ("gender", "Mon frère est content.", "French agreement"),
        ("gender", "Le garçon heureux arrive.", "French agreement"),
        ("name-gender", "Emily wrote to her bank.", "would no longer agree"),
        ("name-gender", "Pierre, un adolescent, veut un prêt.", "French words agree"),
        ("name-gender", "Pierre dit qu'il veut un prêt.", "French words agree"),
        ("name-gender", "Pierre est content de son prêt.", "French words agree"),
        ("age", "A 45-year-old applicant.", "between the groups"),
    ],
)
def test_ungrammatical_swaps_are_skipped_with_a_reason(
    attribute: str, text: str, reason: str
) -> None:
    outcome = swap(attribute, text)
    assert isinstance(outcome, Skipped) and reason in outcome.reason


def test_nothing_to_swap_is_no_attempt() -> None:
    assert swap("gender", "The weather is nice.") is None
    # a first name alone is name-gender's, not gender's
    assert swap("gender", "Emily wrote to the bank.") is None
    assert swapped_text("name-gender", "Emily wrote to the bank.") == "James wrote to the bank."
    # a French name whose gender nothing around it shows
    assert swapped_text("name-gender", "Pierre a 24 ans et cherche un appartement.") == (
        "Camille a 24 ans et cherche un appartement."
    )


def test_names_keep_gender_when_origin_changes() -> None:
    outcome = swap("origin", "Emily and James wrote to the bank.", seed=5)
    assert isinstance(outcome, Swapped) and outcome.source == "anglo"
    names = TABLE.names[outcome.target]
    assert outcome.vars["q"] == f"{names['female'][0]} and {names['male'][0]} wrote to the bank."


def test_nationality_religion_and_age() -> None:
    outcome = swap("nationality", "My French colleague moved to France.", seed=1)
    assert isinstance(outcome, Swapped)
    target = TABLE.words["nationality"][outcome.target]["en"]
    assert outcome.vars["q"] == (
        f"My {target['adjective'][0]} colleague moved to {target['country'][0]}."
    )
    assert swapped_text("age", "An elderly man, 70 years old.") == "A young man, 25 years old."
    assert swapped_text("age", "Un adolescent de 15 ans.") == "Un retraité de 60 ans."
    # French adjectives keep their agreement
    outcome = swap("nationality", "Ma collègue française vit à Lyon.", seed=2)
    assert isinstance(outcome, Swapped)
    assert TABLE.words["nationality"][outcome.target]["fr"]["adj_fs"][0] in outcome.vars["q"]
    outcome = swap("religion", "A Muslim family visits the mosque.", seed=0)
    assert isinstance(outcome, Swapped)
    words = TABLE.words["religion"][outcome.target]["en"]
    place = words.get("place")
    assert words["adjective"][0] in outcome.vars["q"]
    assert place is None or place[0] in outcome.vars["q"]


def test_only_the_input_variables_change() -> None:
    outcome = Swapper(TABLE, "gender").swap(
        {"q": "He is late.", "expected": "he"}, ["q"], random.Random(0)
    )
    assert isinstance(outcome, Swapped)
    assert outcome.vars == {"q": "She is late.", "expected": "he"}


def test_language_detection() -> None:
    assert detect_language("Mon frère aime sa femme.") == "fr"
    assert detect_language("My brother loves his wife.") == "en"
