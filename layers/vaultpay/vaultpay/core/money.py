"""Money: integer paise inside, decimal strings with two places on the wire. Never float."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

PAISE_PER_RUPEE = 100
CURRENCY = "INR"


class ExponentNumber(Decimal):
    """A JSON number written in exponent notation (``1e3``, ``25e-1``): exact, but not how
    anyone writes an amount, so the API refuses it as an amount rather than guess."""


_PAISA = Decimal("0.01")
_PLAIN_AMOUNT = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$")
LARGEST_AMOUNT_PAISE = 10**14 - 1
"""The largest amount the wire format can carry: twelve digits of rupees, two of paise."""
MAX_TRANSFER_PAISE = 10_000_000
"""The largest single transfer (Rs 1,00,000.00): the template's MaxTransferPaise default and
maximum (a deployment may lower it), the wallet's default and what the OpenAPI document states."""


def parse_amount(value: object) -> int:
    """Parse a wire amount ("250.00", "250", 250, Decimal("250.5")) into paise.

    Accepts a decimal string with at most two decimal places and at most twelve digits before
    the point, without leading zeros or surrounding spaces, or a JSON number of that value. Rejects floats
    (binary fractions are not money), booleans, NaN, infinities, exponent notation, signs, and
    anything with more than two decimal places. Range checks (> 0, the per-transfer limit) are
    the caller's; ``amount_pattern`` states the whole rule as one regular expression.
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
        # A JSON number is a value: 250.500 is 250.50, as JSON Schema's multipleOf 0.01 reads it.
        if value != value.quantize(_PAISA):
            raise ValueError("amount must have at most two decimal places, such as '250.00'")
        text = format(value.quantize(_PAISA), "f")
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError("amount must be a decimal string such as '250.00'")
    if not _PLAIN_AMOUNT.fullmatch(text):
        raise ValueError("amount must be a decimal with at most two decimal places and no leading zeros, such as '250.00'")
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
    if isinstance(value, str) and _SIGNED_AMOUNT.fullmatch(value):
        whole, _, fraction = value.lstrip("-").partition(".")
        paise = int(whole) * PAISE_PER_RUPEE + int(fraction)
        return -paise if value.startswith("-") else paise
    raise ValueError("amount must be a decimal string with two places")


def format_paise(paise: int) -> str:
    """Format paise as a decimal string with two places: 1234567 -> "12345.67", -5 -> "-0.05"."""
    sign = "-" if paise < 0 else ""
    whole, fraction = divmod(abs(paise), PAISE_PER_RUPEE)
    return f"{sign}{whole}.{fraction:02d}"


def _integers_up_to(largest: int) -> list[str]:
    """Regex alternatives matching exactly the integers 1..largest, written without leading zeros."""
    digits = str(largest)
    if set(digits) == {"9"}:
        return ["[1-9]" + (f"[0-9]{{0,{len(digits) - 1}}}" if len(digits) > 1 else "")]
    alternatives = []
    if len(digits) > 1:  # fewer digits than ``largest``
        alternatives.append("[1-9]" + (f"[0-9]{{0,{len(digits) - 2}}}" if len(digits) > 2 else ""))
    for position, digit in enumerate(digits):  # as many digits, smaller at ``position``, the same before it
        low, high = (1 if position == 0 else 0), int(digit) - 1
        if high < low:
            continue
        rest = len(digits) - position - 1
        alternatives.append(
            digits[:position]
            + (str(low) if low == high else f"[{low}-{high}]")
            + ("" if rest == 0 else "[0-9]" if rest == 1 else f"[0-9]{{{rest}}}")
        )
    alternatives.append(digits)
    return alternatives


def _digit_up_to(digit: int) -> str:
    return "0" if digit == 0 else f"[0-{digit}]"


def _fractions_up_to(paise: int) -> str:
    """Regex for the fractions ``.d`` and ``.dd`` worth at most ``paise``."""
    tens, units = divmod(paise, 10)
    two_digits = [f"{tens}{_digit_up_to(units)}"] + ([f"{_digit_up_to(tens - 1)}[0-9]"] if tens > 0 else [])
    return f"\\.(?:{_digit_up_to(tens)}|{'|'.join(two_digits)})"


def amount_pattern(maximum_paise: int) -> str:
    """The amounts ``parse_amount`` reads as 1 paisa up to ``maximum_paise``, as one regular
    expression (for the OpenAPI document: a JSON Schema string cannot carry a minimum or maximum)."""
    if not PAISE_PER_RUPEE <= maximum_paise <= LARGEST_AMOUNT_PAISE:
        raise ValueError("the maximum must be between 1 rupee and the largest amount the wire format carries")
    rupees, paise = divmod(maximum_paise, PAISE_PER_RUPEE)
    alternatives = ["0\\.(?:0[1-9]|[1-9][0-9]?)"]  # less than a rupee, more than nothing
    any_fraction, last = (rupees, None) if paise == PAISE_PER_RUPEE - 1 else (rupees - 1, rupees)
    if any_fraction > 0:
        alternatives.append(f"(?:{'|'.join(_integers_up_to(any_fraction))})(?:\\.[0-9]{{1,2}})?")
    if last is not None:
        alternatives.append(f"{last}(?:{_fractions_up_to(paise)})?")
    return f"^(?:{'|'.join(alternatives)})$"
