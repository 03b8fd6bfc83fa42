"""Money: paise inside, decimal strings outside, never float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultpay.core.money import ExponentNumber, format_paise, paise_from_wire, parse_amount


@pytest.mark.parametrize(
    ("wire", "paise"),
    [("250.00", 25000), ("250", 25000), ("0.5", 50), ("0.05", 5), (" 12.3 ", 1230), (7, 700), (Decimal("1.25"), 125)],
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
