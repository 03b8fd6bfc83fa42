"""Registration refuses the platform's reserved addresses; names and notes refuse invisible formatting characters."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from vaultpay.core.models import FullName, Note
from vaultpay.identity.logic import is_reserved_email

FULL_NAME: TypeAdapter[str] = TypeAdapter(FullName)
NOTE: TypeAdapter[str] = TypeAdapter(Note)


@pytest.mark.parametrize(
    "email",
    [
        "system@vaultpay.internal",
        "anyone@vaultpay.internal",
        "ops@payments.vaultpay.internal",
        "admin@vaultpay.example",
        "security@vaultpay.example",
        "support+refunds@vaultpay.example",
        "ad.min@vaultpay.example",
        "noreply@mail.vaultpay.example",
    ],
)
def test_the_platforms_own_addresses_are_reserved(email: str) -> None:
    assert is_reserved_email(email)


@pytest.mark.parametrize(
    "email",
    ["demo@vaultpay.example", "asha@example.in", "admin@example.com", "system@vaultpay.internal.example.com"],
)
def test_other_addresses_are_not(email: str) -> None:
    assert not is_reserved_email(email)


@pytest.mark.parametrize(
    "text",
    [
        "Ravi\u202egnp.exe",  # right-to-left override: shows as "Ravi" + "exe.png"
        "Asha\u2066 Rao\u2069",  # bidi isolates
        "Ad\u200bmin",  # zero-width space
        "Ravi\u200d",  # zero-width joiner
        "\ufeffMeera",  # byte order mark / zero-width no-break space
        "Asha\u2060Rao",  # word joiner
        "Asha\u00adRao",  # soft hyphen
    ],
)
def test_names_and_notes_refuse_invisible_formatting_characters(text: str) -> None:
    with pytest.raises(ValidationError, match="invisible formatting"):
        FULL_NAME.validate_python(text)
    with pytest.raises(ValidationError, match="invisible formatting"):
        NOTE.validate_python(text)


@pytest.mark.parametrize("text", ["Meera Iyer", "मीरा अय्यर", "Zoë Ó'Brien", "Rent 🏠 for Nov", "محمد"])
def test_names_and_notes_in_any_script_are_still_welcome(text: str) -> None:
    assert FULL_NAME.validate_python(text) == text
    assert NOTE.validate_python(text) == text
