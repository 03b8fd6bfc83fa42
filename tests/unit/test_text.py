"""Names, notes and e-mail addresses: the patterns the OpenAPI document states are the rules the API applies."""

from __future__ import annotations

import re
import sys
import unicodedata

import email_validator
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from vaultpay.core.models import EMAIL_PATTERN, SPECIAL_USE_DOMAINS, Email, FullName, Note
from vaultpay.core.text import CONTROL_RANGES, FORMAT_RANGES, NAME_PATTERN, NOTE_PATTERN, SPACE_RANGES

FULL_NAME: TypeAdapter[str] = TypeAdapter(FullName)
NOTE: TypeAdapter[str] = TypeAdapter(Note)
EMAIL: TypeAdapter[str] = TypeAdapter(Email)


def code_points(ranges: tuple[tuple[int, int], ...]) -> set[int]:
    return {code_point for low, high in ranges for code_point in range(low, high + 1)}


def category(*names: str) -> set[int]:
    return {code_point for code_point in range(sys.maxunicode + 1) if unicodedata.category(chr(code_point)) in names}


def test_the_character_classes_are_the_unicode_categories() -> None:
    # Given the running Python's Unicode tables (the classes are written for 15.1, the Lambda runtime's)
    assert code_points(CONTROL_RANGES) == category("Cc")
    running = category("Cf")
    # every formatting character is refused, and the class holds nothing else that is assigned here
    assert running <= code_points(FORMAT_RANGES)
    assert code_points(FORMAT_RANGES) - running <= category("Cn")
    # and the spaces are what str.strip() removes besides those
    spaces = {code_point for code_point in range(sys.maxunicode + 1) if chr(code_point).isspace()}
    assert code_points(SPACE_RANGES) == spaces - category("Cc", "Cf")


def _accepts(adapter: TypeAdapter[str], text: str) -> bool:
    try:
        adapter.validate_python(text)
    except ValidationError:
        return False
    return True


INTERESTING = st.sampled_from(["\u202e", "\u200b", "\ufeff", "\u00ad", "\x85", "\x00", "\t", " ", "\u3000", "\U000e0041"])
TEXTS = st.one_of(st.text(max_size=12), st.lists(st.one_of(INTERESTING, st.characters()), max_size=8).map("".join))


@given(TEXTS)
def test_a_name_is_taken_exactly_when_the_documented_pattern_matches(text: str) -> None:
    assert _accepts(FULL_NAME, text) is (re.fullmatch(NAME_PATTERN, text) is not None)


@given(TEXTS)
def test_a_note_is_taken_exactly_when_the_documented_pattern_matches(text: str) -> None:
    assert _accepts(NOTE, text) is (re.fullmatch(NOTE_PATTERN, text) is not None)


@pytest.mark.parametrize("name", ["   ", "\u3000", " \u00a0 "])
def test_a_name_of_spaces_only_is_refused(name: str) -> None:
    assert not _accepts(FULL_NAME, name)


def test_the_special_use_domains_are_email_validators() -> None:
    assert set(SPECIAL_USE_DOMAINS) == set(email_validator.SPECIAL_USE_DOMAIN_NAMES)


@pytest.mark.parametrize(
    "address",
    [
        "asha@example.test",
        "asha@mail.EXAMPLE.Local",
        "asha@localhost",
        "asha@example.123",
        '"asha"@example.in',
        "asha@[10.0.0.1]",
        "Asha <asha@example.in>",
        " asha@example.in",
        "asha@example.in ",
        "asha@example.in\n",
    ],
)
def test_what_the_pattern_rules_out_the_api_refuses(address: str) -> None:
    assert re.fullmatch(EMAIL_PATTERN, address) is None
    assert not _accepts(EMAIL, address)


@given(st.emails())
def test_every_address_the_api_takes_matches_the_documented_pattern(address: str) -> None:
    if _accepts(EMAIL, address):
        assert re.fullmatch(EMAIL_PATTERN, address) is not None


@pytest.mark.parametrize("address", ["Asha@Example.IN", "ravi+rent@mail.example.co.in", "mīrā@example.in"])
def test_addresses_are_taken_and_compared_in_lower_case(address: str) -> None:
    assert re.fullmatch(EMAIL_PATTERN, address) is not None
    assert EMAIL.validate_python(address) == address.lower()
