"""What every feature's request and response models share: the base models and the field types.

Requests forbid unknown fields (no mass assignment: a ``balance`` or ``is_admin`` in a body is a
422, not silently dropped). Amounts are paise inside and decimal strings outside. E-mail addresses
are checked by calling pydantic's own check on first use, so a function whose requests carry no
address (the vault) never loads e-mail validation at cold start.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic.networks import validate_email

from vaultpay.core.aadhaar import normalize_aadhaar
from vaultpay.core.money import format_paise, paise_from_wire, parse_amount


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(frozen=True)


Password = Annotated[str, Field(min_length=1, max_length=1024)]
"""Any string; the policy (length, common passwords) is checked by the logic on register."""

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _normalize_email(value: str) -> str:
    return value.strip().lower()


def _no_control_characters(value: str) -> str:
    """No control characters (Cc) and no format characters (Cf): bidi overrides and isolates
    (U+202A-U+202E, U+2066-U+2069) reorder what others see ("Ravi\u202egnp.exe"), zero-width
    characters (U+200B-U+200D, U+2060, U+FEFF) make look-alike names and notes."""
    if _CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    if any(unicodedata.category(character) == "Cf" for character in value):
        raise ValueError("must not contain invisible formatting characters (bidi controls, zero-width characters)")
    return value


def _utc_iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


no_control_characters = AfterValidator(_no_control_characters)
"""Refuses control and invisible formatting characters in free text shown to others."""

utc_iso = _utc_iso
"""A UTC datetime as the API writes timestamps (problem extensions use it too)."""


def _valid_email(value: str) -> str:
    # pydantic's own EmailStr check (email-validator), called rather than declared: EmailStr loads
    # email-validator when a model is defined, i.e. at every cold start, and only register and
    # transfer take an address.
    return validate_email(value)[1]


Email = Annotated[
    str,
    Field(max_length=254, json_schema_extra={"format": "email"}),
    AfterValidator(_valid_email),
    AfterValidator(_normalize_email),
]
"""An e-mail address, validated and normalized to lower case."""

LooseEmail = Annotated[str, Field(min_length=1, max_length=254), AfterValidator(_normalize_email)]
"""Login takes any string: a malformed address must answer exactly like an unknown one."""

FullName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(str.strip), AfterValidator(_no_control_characters)]

Aadhaar = Annotated[
    str,
    Field(min_length=12, max_length=14, examples=["2341 2341 2346"]),
    AfterValidator(normalize_aadhaar),
]

Paise = Annotated[
    int,
    BeforeValidator(parse_amount),
    Field(gt=0),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$", "examples": ["250.00"]},
                {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.01},
            ],
            "description": "Amount in rupees: a decimal string (preferred) or number with at most two decimal places.",
        },
        mode="validation",
    ),
]
"""An amount on the wire, in paise once validated."""

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

Note = Annotated[str, Field(max_length=140), AfterValidator(str.strip), AfterValidator(_no_control_characters)]

RefreshToken = Annotated[str, Field(min_length=1, max_length=512)]


class Health(ResponseModel):
    status: Literal["ok"] = "ok"
