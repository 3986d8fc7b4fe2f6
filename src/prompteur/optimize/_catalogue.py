"""The built-in catalogue of prompt-engineering edits. The answer format is derived from
the suite itself: its assertions (equals, starts-with, regex, is-json...) and, when the
cases carry their expected answers, what those answers look like (a number, a word, one
of a few labels)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from ..eval._plan import PlannedTest
from ._candidate import Candidate

__all__ = ["answer_format", "catalogue", "failure_edits", "find_answer_var", "labels"]

_NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")
_VARS_IN_CODE = re.compile(r"""vars\W{1,4}(\w+)""")
_VARIABLE = re.compile(r"\{\{\s*\w+\s*\}\}")
_START_ANCHORED = {"equals", "starts-with", "is-json", "regex", "python", "javascript"}


def find_answer_var(tests: Sequence[PlannedTest]) -> str | None:
    """The variable holding each case's expected answer: the one an assertion's value
    equals (``value: "{{answer}}"``), or that a code assertion reads from the vars."""
    votes: Counter[str] = Counter()
    for test in tests[:200]:
        for assertion in test.assertions:
            value = assertion.value
            if not isinstance(value, str):
                continue
            if assertion.type.endswith(("python", "javascript")):
                votes.update(n for n in _VARS_IN_CODE.findall(value) if n in test.vars)
                continue
            for name, given in test.vars.items():
                if isinstance(given, str | int | float) and str(given).strip() == value.strip():
                    votes[name] += 1
    return votes.most_common(1)[0][0] if votes else None


def _types(tests: Sequence[PlannedTest]) -> Counter[str]:
    return Counter(a.type.removeprefix("not-") for t in tests[:200] for a in t.assertions)


def labels(answers: Sequence[str]) -> list[str] | None:
    """The few labels the answers are drawn from (each seen at least twice on average),
    None when they are free text or all numbers."""
    distinct = sorted(set(answers))
    if all(_NUMBER.match(a.strip()) for a in distinct):
        return None
    if 2 <= len(distinct) <= 8 and len(answers) >= 2 * len(distinct):
        return distinct
    return None


def _either(words: Sequence[str]) -> str:
    return ", ".join(words[:-1]) + " or " + words[-1]


def answer_format(tests: Sequence[PlannedTest], answers: Sequence[str]) -> str:
    """One or two sentences saying how to answer, from the suite's answers and checks."""
    sentences = []
    choices = labels(answers)
    if answers and all(_NUMBER.match(a.strip()) for a in answers):
        sentences.append("Answer with only the number, with no words, units or working.")
    elif choices is not None:
        # the labels as a sentence: given as a list ("exactly one of: No, Yes"), small
        # models copy the list as their answer (SmolLM2-135M: "No, Yes." on 20 of 20
        # syllogisms; in this form 1 of 20, and it opened 20 of 20 reviews with a label
        # where the list form opened none)
        if all(len(c.split()) == 1 for c in choices):
            sentence = f"Answer with one word: {_either(choices)}"
            sentences.append(sentence if sentence[-1] in ".!?" else sentence + ".")
        else:
            quoted = [f'"{c}"' for c in choices]
            sentences.append(f"Answer with {_either(quoted)}, and nothing else.")
    elif answers and all(len(a.split()) == 1 for a in answers):
        sentences.append("Answer with a single word and nothing else.")
    types = _types(tests)
    if types["is-json"] or types["contains-json"]:
        sentences.append("Reply with valid JSON only, with no other text.")
    elif types["equals"]:
        sentences.append("Reply with the answer exactly, with nothing before or after it.")
    elif types["starts-with"] or types["regex"]:
        sentences.append("Start your reply with the answer itself.")
    if not sentences:
        sentences.append("Reply with only the final answer, without explanation.")
    return " ".join(sentences)


def anchored(tests: Sequence[PlannedTest]) -> bool:
    """Whether the checks look at the start of the output (then no reasoning first)."""
    return any(t in _START_ANCHORED for t in _types(tests))


def catalogue(
    fmt: str,
    tests: Sequence[PlannedTest],
    *,
    chat: bool,
    example: str | None = None,
    body: str | None = None,
) -> list[Candidate]:
    """Instruction edits to race, the likeliest first: the answer format (with a sample
    answer from the training cases, when there is one), alone and with a role,
    constraints, careful reading or step-by-step reasoning, before or after the prompt."""
    found = [Candidate(fmt, place="after", origin="catalogue: answer format")]
    if example is not None and "\n" not in example and len(example) <= 80:
        found.append(
            Candidate(
                f"{fmt} For example: {example}",
                place="after",
                origin="catalogue: answer format with an example",
            )
        )
    found += [
        Candidate(fmt, place="before", origin="catalogue: answer format first"),
        Candidate(
            f"You are an expert who answers precisely. {fmt}",
            place="before",
            origin="catalogue: role",
        ),
        Candidate(
            f"{fmt} Do not explain and do not repeat the question.",
            place="after",
            origin="catalogue: constraints",
        ),
        Candidate(
            f"Read the input carefully before answering. {fmt}",
            place="after",
            origin="catalogue: careful reading",
        ),
    ]
    if not anchored(tests):
        found.append(
            Candidate(
                "Think step by step, then write the final answer on its own last line.",
                place="after",
                origin="catalogue: step by step",
            )
        )
    if body is not None:
        delimited = _VARIABLE.sub(lambda m: f'"""\n{m.group(0)}\n"""', body)
        if delimited != body:
            found.append(
                Candidate(
                    f"The input is between triple quotes. {fmt}",
                    body=delimited,
                    place="after",
                    origin="catalogue: delimiters",
                )
            )
    return found


def failure_edits(
    fmt: str, failing_outputs: Sequence[str], answers: Sequence[str]
) -> list[Candidate]:
    """Edits aimed at what the start's failures show: answers too long, or all opening
    with the same words."""
    edits: list[Candidate] = []
    outputs = [o.strip() for o in failing_outputs if o.strip()]
    if not outputs:
        return edits
    words = sorted(len(o.split()) for o in outputs)
    typical = max((len(a.split()) for a in answers), default=3)
    if words[len(words) // 2] > 3 * typical + 3:
        limit = max(1, typical)
        edits.append(
            Candidate(
                f"{fmt} Your whole reply must be at most {limit} word{'s' if limit > 1 else ''}.",
                place="after",
                origin="failures: too long",
            )
        )
    openings = Counter(" ".join(o.split()[:3]) for o in outputs if len(o.split()) >= 3)
    if openings:
        opening, count = openings.most_common(1)[0]
        if count * 5 >= 2 * len(outputs) and count >= 2:
            edits.append(
                Candidate(
                    f'{fmt} Do not begin with "{opening}": begin with the answer.',
                    place="after",
                    origin="failures: same opening",
                )
            )
    return edits
