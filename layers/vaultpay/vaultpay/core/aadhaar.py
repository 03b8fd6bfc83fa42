"""Aadhaar numbers: format, Verhoeff check digit, masking.

An Aadhaar number is 12 digits, the first 2-9, the last a Verhoeff check digit over the
other eleven; it is written as the 12 digits or in three groups of four with single spaces
("2341 2341 2346"), as on the card. It is never logged and never put in an error message: validation failures
say what is wrong, not what was sent.
"""

from __future__ import annotations

import re

_MULTIPLY = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_PERMUTE = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_INVERSE = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)

AADHAAR_PATTERN = r"^[2-9][0-9]{3} ?[0-9]{4} ?[0-9]{4}$"
"""How the API takes a number (the check digit aside): the OpenAPI document states this pattern."""
_INPUT = re.compile(r"^[0-9 ]+$")
_FORMAT = re.compile(AADHAAR_PATTERN)


def verhoeff_checksum(digits: str) -> int:
    """Verhoeff checksum of a digit string: 0 when its last digit is a valid check digit."""
    check = 0
    for position, digit in enumerate(reversed(digits)):
        check = _MULTIPLY[check][_PERMUTE[position % 8][int(digit)]]
    return check


def verhoeff_check_digit(digits: str) -> str:
    """The check digit to append to ``digits``."""
    return str(_INVERSE[verhoeff_checksum(digits + "0")])


def normalize_aadhaar(value: str) -> str:
    """Validate a number as typed (12 digits, or 4-4-4 with single spaces); return the 12 digits.

    Raises ValueError with a message that never contains the number.
    """
    if not _INPUT.fullmatch(value):
        raise ValueError("Aadhaar number must contain only digits and spaces")
    if not _FORMAT.fullmatch(value):
        raise ValueError(
            "Aadhaar number must be 12 digits, alone or in groups of four separated by single spaces, "
            "and cannot start with 0 or 1"
        )
    digits = value.replace(" ", "")
    if verhoeff_checksum(digits) != 0:
        raise ValueError("Aadhaar number has an invalid check digit")
    return digits


def mask_aadhaar(last4: str) -> str:
    """The only form in which an Aadhaar number is ever displayed: ``XXXX XXXX 1234``."""
    return f"XXXX XXXX {last4}"
