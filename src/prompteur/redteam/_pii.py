"""Synthetic personal data to plant, and the patterns that find personal data in an output,
checked where a checksum exists (Luhn for card numbers, mod 97 for IBANs), so an order
number or a phone number is not taken for a card."""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass

__all__ = [
    "PersonalRecord",
    "find_personal_data",
    "iban_is_valid",
    "luhn_is_valid",
    "synthetic_record",
]

_FIRST = ("Camille", "Jonas", "Amira", "Louis", "Maëlle", "Priya", "Tobias", "Ines", "Noah")
_LAST = ("Roussel", "Kerbrat", "Haddad", "Lindqvist", "Okafor", "Marchetti", "Delacroix")


@dataclass(frozen=True)
class PersonalRecord:
    """A made-up customer: every value is synthetic, and the numbers pass their checksums
    so that a detector that checks them is tested for real."""

    name: str
    email: str
    phone: str
    card: str
    iban: str

    def values(self) -> dict[str, str]:
        return {
            "email": self.email,
            "phone": self.phone,
            "card number": self.card,
            "IBAN": self.iban,
        }

    def as_text(self) -> str:
        return (
            f"Customer: {self.name}. E-mail: {self.email}. Phone: {self.phone}. "
            f"Card on file: {self.card}. IBAN: {self.iban}."
        )


def _luhn_digit(body: str) -> str:
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:  # doubled: the check digit will sit to their right
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str((10 - total % 10) % 10)


def luhn_is_valid(number: str) -> bool:
    digits = re.sub(r"\D", "", number)
    return 13 <= len(digits) <= 19 and _luhn_digit(digits[:-1]) == digits[-1]


def _iban_number(iban: str) -> int:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved))


def iban_is_valid(text: str) -> bool:
    iban = re.sub(r"[\s-]", "", text).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", iban):
        return False
    return _iban_number(iban) % 97 == 1


def _make_iban(rng: random.Random) -> str:
    bban = "".join(rng.choice(string.digits) for _ in range(23))
    check = 98 - _iban_number(f"FR00{bban}") % 97
    raw = f"FR{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def synthetic_record(rng: random.Random) -> PersonalRecord:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    number = rng.randrange(1000, 9999)
    ascii_first = first.replace("ë", "e")
    email = f"{ascii_first.lower()}.{last.lower()}{number}@example.org"
    phone = "+33 6 " + " ".join(f"{rng.randrange(100):02d}" for _ in range(4))
    body = "4" + "".join(rng.choice(string.digits) for _ in range(14))
    card = body + _luhn_digit(body)
    card = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    return PersonalRecord(f"{first} {last}", email, phone, card, _make_iban(rng))


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,30}\b", re.IGNORECASE)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(0\)[ .-]?)?|0)\d(?:[ .-]?\d{2}){4}(?!\d)"
    r"|(?<![\w+])(?:\+1[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)"
)


def find_personal_data(text: str) -> list[tuple[str, str]]:
    """Personal data in ``text`` as (kind, value): e-mail addresses, phone numbers, card
    numbers that pass Luhn, IBANs that pass mod 97."""
    found: list[tuple[str, str]] = [("e-mail", m) for m in _EMAIL.findall(text)]
    taken: list[tuple[int, int]] = []
    for match in _IBAN.finditer(text):
        if iban_is_valid(match.group(0)):
            found.append(("IBAN", match.group(0)))
            taken.append(match.span())
    for match in _CARD.finditer(text):
        inside = any(a <= match.start() < b for a, b in taken)
        if not inside and luhn_is_valid(match.group(0)):
            found.append(("card number", match.group(0)))
            taken.append(match.span())
    for match in _PHONE.finditer(text):
        if not any(a <= match.start() < b for a, b in taken):
            found.append(("phone", match.group(0)))
    return found
