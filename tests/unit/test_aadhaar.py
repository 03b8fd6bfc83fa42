"""Aadhaar numbers: Verhoeff check digit, format, masking."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultpay.core.aadhaar import AADHAAR_PATTERN, mask_aadhaar, normalize_aadhaar, verhoeff_check_digit, verhoeff_checksum

eleven_digits = st.text(alphabet="0123456789", min_size=10, max_size=10).flatmap(
    lambda rest: st.sampled_from("23456789").map(lambda first: first + rest)
)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("234123412346", True),
        ("234123412347", False),
        ("123412341234", False),
        ("2341 2341 2346", True),
        ("23412341 2346", True),
    ],
)
def test_known_vectors(number: str, valid: bool) -> None:
    if valid:
        assert normalize_aadhaar(number) == number.replace(" ", "")
    else:
        with pytest.raises(ValueError, match="Aadhaar"):
            normalize_aadhaar(number)


@pytest.mark.parametrize(
    "number",
    [
        "",
        "2341234123",
        "2341234123467",
        "23412341234a",
        "0341 2341 2346",
        "2341-2341-2346",
        " 234123412346",  # spaces only between the groups of four, one at a time
        "2341  23412346",
        "23 4123412346",
        "234123412346\n",
    ],
)
def test_malformed_numbers_are_refused(number: str) -> None:
    with pytest.raises(ValueError, match="Aadhaar"):
        normalize_aadhaar(number)


def test_error_messages_never_contain_the_number() -> None:
    for number in ("234123412347", "2341 2341 2347"):
        with pytest.raises(ValueError, match="Aadhaar") as caught:
            normalize_aadhaar(number)
        assert "2341" not in str(caught.value)


@given(eleven_digits)
def test_the_computed_check_digit_always_validates(body: str) -> None:
    number = body + verhoeff_check_digit(body)
    assert verhoeff_checksum(number) == 0
    assert normalize_aadhaar(number) == number


@given(eleven_digits, st.integers(0, 11), st.integers(1, 9))
def test_any_single_digit_error_is_detected(body: str, position: int, shift: int) -> None:
    number = body + verhoeff_check_digit(body)
    wrong = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1 :]
    assert verhoeff_checksum(wrong) != 0


@given(eleven_digits, st.integers(0, 10))
def test_any_adjacent_transposition_is_detected(body: str, position: int) -> None:
    number = body + verhoeff_check_digit(body)
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    if swapped != number:
        assert verhoeff_checksum(swapped) != 0


def test_only_the_last_four_digits_are_ever_shown() -> None:
    assert mask_aadhaar("2346") == "XXXX XXXX 2346"


@given(
    st.one_of(st.text(alphabet="0123456789 \n", max_size=16), eleven_digits.map(lambda body: body + verhoeff_check_digit(body)))
)
def test_the_documented_pattern_is_the_format_the_api_takes(typed: str) -> None:
    # Given anything typed of digits and spaces, the API takes it exactly when the OpenAPI
    # document's pattern matches it and its check digit (which no pattern states) is right
    try:
        normalize_aadhaar(typed)
        accepted = True
    except ValueError:
        accepted = False
    matches = re.fullmatch(AADHAAR_PATTERN, typed) is not None
    assert accepted is (matches and verhoeff_checksum(typed.replace(" ", "")) == 0)
