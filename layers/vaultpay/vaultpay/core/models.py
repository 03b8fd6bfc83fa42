"""What every feature's request and response models share: the base models and the field types.

Requests forbid unknown fields (no mass assignment: a ``balance`` or ``is_admin`` in a body is a
422, not silently dropped). Amounts are paise inside and decimal strings outside. E-mail addresses
are checked by email-validator, loaded on first use, so a function whose requests carry no
address (the vault) never loads e-mail validation at cold start.

Each field type states in its JSON Schema (hence in the OpenAPI document) what the API enforces:
lengths, patterns and formats come from the same constants the validators use. Where a rule cannot
be a JSON Schema keyword (a Verhoeff check digit, a list of common passwords) the schema names a
``format`` and its description says the rule; the API fuzz test supplies values for those formats.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from vaultpay.core.aadhaar import AADHAAR_PATTERN, normalize_aadhaar
from vaultpay.core.money import LARGEST_AMOUNT_PAISE, PAISE_PER_RUPEE, amount_pattern, format_paise, paise_from_wire, parse_amount
from vaultpay.core.passwords import MAX_LENGTH as PASSWORD_MAX_LENGTH
from vaultpay.core.passwords import MIN_LENGTH as PASSWORD_MIN_LENGTH
from vaultpay.core.text import NAME_PATTERN, NOTE_PATTERN, refuse_blank, refuse_invisible


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(frozen=True)


Password = Annotated[str, Field(min_length=1, max_length=1024, json_schema_extra={"format": "password"})]
"""A password presented to be checked (login, step-up, the reveal): any string."""

NewPassword = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        # The policy is the logic's (a 422 weak-password, vaultpay.core.passwords); the document states it.
        json_schema_extra={
            "format": "password",
            "minLength": PASSWORD_MIN_LENGTH,
            "maxLength": PASSWORD_MAX_LENGTH,
            "description": (
                f"{PASSWORD_MIN_LENGTH}-{PASSWORD_MAX_LENGTH} characters (Unicode code points, as sent), and not one of "
                "the 10,000 most common passwords (compared case-insensitively after NFKC); otherwise 422 weak-password."
            ),
        },
    ),
]
"""A password chosen at registration."""


def _utc_iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


utc_iso = _utc_iso
"""A UTC datetime as the API writes timestamps (problem extensions use it too)."""

# email-validator refuses these top-level domains (RFC 6761 and friends: email_validator.SPECIAL_USE_DOMAIN_NAMES).
SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")


def _either_case(word: str) -> str:
    return "".join(f"[{letter.upper()}{letter}]" for letter in word)


EMAIL_PATTERN = (
    r'^[^\s"@\[\]<>]+@'
    + f"(?![^@]*\\.(?:{'|'.join(_either_case(domain) for domain in SPECIAL_USE_DOMAINS)})$)"
    + r"[^\s@\[\]]+\.[^\s@\[\].]*[^\s@\[\].0-9][^\s@\[\].]*$"
)
"""What the ``idn-email`` format admits that email-validator refuses, ruled out: spaces, quoted
local parts, address literals, a domain without a dot, an all-digit or special-use top-level domain."""


def _valid_email(value: str) -> str:
    # email-validator (pydantic's own e-mail check, called rather than declared: EmailStr loads it
    # when a model is defined, i.e. at every cold start, and only register and transfer take an
    # address). Unlike pydantic's validate_email it is not given a display name ("Asha <a@b.in>")
    # or surrounding spaces to strip: the address alone, as the document says.
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise ValueError(f"value is not a valid email address: {error}") from None


Email = Annotated[
    str,
    Field(
        max_length=254,
        description="An e-mail address, without a display name or spaces; compared in lower case.",
        json_schema_extra={"format": "idn-email", "pattern": EMAIL_PATTERN},
    ),
    AfterValidator(_valid_email),
]
"""An e-mail address, validated and normalized to lower case."""


def _normalize_email(value: str) -> str:
    return value.strip().lower()


LooseEmail = Annotated[str, Field(min_length=1, max_length=254), AfterValidator(_normalize_email)]
"""Login takes any string: a malformed address must answer exactly like an unknown one."""

FullName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        json_schema_extra={
            "pattern": NAME_PATTERN,
            "description": "No control or invisible formatting characters (Unicode Cc, Cf), not only spaces; trimmed.",
        },
    ),
    AfterValidator(refuse_invisible),
    AfterValidator(refuse_blank),
    AfterValidator(str.strip),
]

Aadhaar = Annotated[
    str,
    Field(
        min_length=12,
        max_length=14,
        examples=["2341 2341 2346", "234123412346"],
        json_schema_extra={
            "pattern": AADHAAR_PATTERN,
            "format": "aadhaar",
            "description": (
                "12 digits, alone or in three groups of four separated by single spaces; the first is 2-9 and the "
                "last is the Verhoeff check digit of the other eleven (format 'aadhaar')."
            ),
        },
    ),
    AfterValidator(normalize_aadhaar),
]


def amount_json_schema(maximum_paise: int, description: str = "") -> dict[str, Any]:
    """An amount on the wire, from 0.01 up to ``maximum_paise``: the string form's pattern says the
    bounds too (a JSON Schema string has no minimum or maximum)."""
    maximum = f"{format_paise(maximum_paise)}"
    return {
        "anyOf": [
            {"type": "string", "pattern": amount_pattern(maximum_paise), "examples": ["250.00"]},
            {"type": "number", "minimum": 0.01, "maximum": maximum_paise / PAISE_PER_RUPEE, "multipleOf": 0.01},
        ],
        "description": (
            f"Amount in rupees, from 0.01 to {maximum}: a decimal string (preferred) without leading zeros, or a "
            f"plain JSON number (no exponent), with at most two decimal places.{' ' + description if description else ''}"
        ),
    }


Paise = Annotated[
    int,
    BeforeValidator(parse_amount),
    Field(gt=0),
    WithJsonSchema(amount_json_schema(LARGEST_AMOUNT_PAISE), mode="validation"),
]
"""An amount on the wire, in paise once validated. A request model whose amount has a smaller
maximum (enforced by the logic, answered as its own problem) states it with ``amount_json_schema``."""

Money = Annotated[
    int,
    BeforeValidator(paise_from_wire),
    PlainSerializer(format_paise, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "examples": ["10000.00"]}, mode="serialization"),
]
"""An amount in a response: paise inside, a two-place decimal string outside."""

Timestamp = Annotated[
    datetime,
    PlainSerializer(_utc_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]

Note = Annotated[
    str,
    Field(
        max_length=140,
        json_schema_extra={"pattern": NOTE_PATTERN, "description": "No control or invisible formatting characters; trimmed."},
    ),
    AfterValidator(refuse_invisible),
    AfterValidator(str.strip),
]

RefreshToken = Annotated[str, Field(min_length=1, max_length=512)]


class Health(ResponseModel):
    status: Literal["ok"] = "ok"
