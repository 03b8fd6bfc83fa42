"""Money: integer paise inside, decimal strings with two places on the wire. Never float."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

PAISE_PER_RUPEE = 100
CURRENCY = "INR"


class ExponentNumber(Decimal):
    """A JSON number written in exponent notation (``1e3``, ``25e-1``): exact, but not how
    anyone writes an amount, so the API refuses it as an amount rather than guess."""


_PLAIN_AMOUNT = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,2})?$")


def parse_amount(value: object) -> int:
    """Parse a wire amount ("250.00", "250", 250, Decimal("250.5")) into paise.

    Accepts a decimal string or a JSON number with at most two decimal places. Rejects
    floats (binary fractions are not money), booleans, NaN, infinities, exponent notation,
    signs, and anything with more than two decimal places. Range checks (> 0, the
    per-transfer limit) are the caller's.
    """
    if isinstance(value, (bool, float)):
        raise ValueError("amount must be a decimal string such as '250.00'")
    if isinstance(value, ExponentNumber):
        raise ValueError("amount must be written without an exponent, such as '250.00'")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("amount must be a finite number")
        text = format(value, "f")
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError("amount must be a decimal string such as '250.00'")
    if not _PLAIN_AMOUNT.match(text):
        raise ValueError("amount must be a positive decimal with at most two decimal places, such as '250.00'")
    try:
        rupees = Decimal(text)
    except InvalidOperation as error:  # pragma: no cover - the regex admits only valid decimals
        raise ValueError("amount is not a number") from error
    return int(rupees * PAISE_PER_RUPEE)


_SIGNED_AMOUNT = re.compile(r"^-?[0-9]+\.[0-9]{2}$")


def paise_from_wire(value: object) -> int:
    """Read back an amount this API wrote ("-12.50" -> -1250); integers are taken as paise already."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _SIGNED_AMOUNT.match(value):
        whole, _, fraction = value.lstrip("-").partition(".")
        paise = int(whole) * PAISE_PER_RUPEE + int(fraction)
        return -paise if value.startswith("-") else paise
    raise ValueError("amount must be a decimal string with two places")


def format_paise(paise: int) -> str:
    """Format paise as a decimal string with two places: 1234567 -> "12345.67", -5 -> "-0.05"."""
    sign = "-" if paise < 0 else ""
    whole, fraction = divmod(abs(paise), PAISE_PER_RUPEE)
    return f"{sign}{whole}.{fraction:02d}"
