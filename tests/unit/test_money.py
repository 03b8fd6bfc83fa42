"""Money: paise inside, decimal strings outside, never float."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultpay.core.money import (
    LARGEST_AMOUNT_PAISE,
    MAX_TRANSFER_PAISE,
    PAISE_PER_RUPEE,
    ExponentNumber,
    amount_pattern,
    format_paise,
    paise_from_wire,
    parse_amount,
)


@pytest.mark.parametrize(
    ("wire", "paise"),
    [
        ("250.00", 25000),
        ("250", 25000),
        ("0.5", 50),
        ("0.05", 5),
        (7, 700),
        (Decimal("1.25"), 125),
        (Decimal("250.500"), 25050),  # a JSON number is its value
    ],
)
def test_amounts_parse_to_paise(wire: object, paise: int) -> None:
    assert parse_amount(wire) == paise


@pytest.mark.parametrize(
    "wire",
    [
        "1.001",
        "-5",
        "+5",
        "1e3",
        "NaN",
        "Infinity",
        "",
        "1,000.00",
        "₹10",
        1.5,
        True,
        None,
        Decimal("NaN"),
        Decimal("0.001"),
        ExponentNumber("1e3"),
        ExponentNumber("25e-1"),
        [],
        "1.",
        ".5",
        " 12.3 ",  # the document's pattern has no room for spaces
        "250\n",
        "0250.00",  # nor for leading zeros
        "00.50",
        "1234567890123",  # thirteen digits: beyond the wire format
        Decimal("250.505"),
    ],
)
def test_anything_else_is_refused(wire: object) -> None:
    with pytest.raises(ValueError, match="amount"):
        parse_amount(wire)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_formatting_round_trips(paise: int) -> None:
    assert paise_from_wire(format_paise(paise)) == paise
    if paise >= 0:
        assert parse_amount(format_paise(paise)) == paise


def test_formatting_has_two_places() -> None:
    assert [format_paise(value) for value in (0, 5, 100, 1234567, -5)] == ["0.00", "0.05", "1.00", "12345.67", "-0.05"]


MAXIMA = st.sampled_from([PAISE_PER_RUPEE, 150, 199, 5_000_050, MAX_TRANSFER_PAISE, 123_456_789, LARGEST_AMOUNT_PAISE])
SPELLINGS = st.one_of(
    st.text(alphabet="0123456789.", max_size=16),
    st.integers(min_value=0, max_value=10**15).map(lambda paise: format_paise(paise)),
    st.integers(min_value=0, max_value=10**15).map(lambda paise: format_paise(paise).rstrip("0")),
    st.integers(min_value=0, max_value=10**13).map(str),
)


def _paise_or_none(text: str) -> int | None:
    try:
        return parse_amount(text)
    except ValueError:
        return None


@given(MAXIMA, SPELLINGS)
def test_the_documented_pattern_admits_exactly_the_amounts_the_api_takes(maximum: int, text: str) -> None:
    # Given a maximum and any spelling of an amount, the pattern the OpenAPI document states
    # matches it exactly when the API reads it as 1 paisa up to the maximum
    paise = _paise_or_none(text)
    expected = paise is not None and 1 <= paise <= maximum
    assert bool(re.fullmatch(amount_pattern(maximum), text)) is expected


@given(MAXIMA, st.integers(min_value=-5, max_value=10**14 + 5))
def test_the_bounds_are_exact(maximum: int, paise: int) -> None:
    text = format_paise(paise)
    assert bool(re.fullmatch(amount_pattern(maximum), text)) is (1 <= paise <= maximum)
