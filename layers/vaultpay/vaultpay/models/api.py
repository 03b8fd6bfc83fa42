"""Request and response models of the public API (the contract in docs/api.md); the vault's
are in ``vaultpay.models.vault``.

Requests forbid unknown fields (``RequestModel``). Amounts are paise inside and decimal strings
outside.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic.networks import validate_email

from vaultpay.aadhaar import normalize_aadhaar
from vaultpay.models.base import Password, RequestModel, ResponseModel
from vaultpay.money import format_paise, paise_from_wire, parse_amount

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _normalize_email(value: str) -> str:
    return value.strip().lower()


def _no_control_characters(value: str) -> str:
    if _CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    return value


def _utc_iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


# ---------------------------------------------------------------- identity
class RegisterRequest(RequestModel):
    email: Email
    password: Password
    full_name: FullName
    aadhaar: Aadhaar


class LoginRequest(RequestModel):
    email: LooseEmail
    password: Password


class RefreshRequest(RequestModel):
    refresh: RefreshToken


class LogoutRequest(RequestModel):
    refresh: RefreshToken


class Profile(ResponseModel):
    id: str
    email: str
    full_name: str
    aadhaar_masked: str = Field(examples=["XXXX XXXX 2346"])
    created_at: Timestamp


class RegisteredUser(Profile):
    balance: Money


class TokenPair(ResponseModel):
    access: str
    refresh: str
    expires_in: int = Field(description="Lifetime of the access token, in seconds.")


# ---------------------------------------------------------------- wallet
class TransferRequest(RequestModel):
    receiver_email: Email
    amount: Paise
    note: Note | None = None


class Party(ResponseModel):
    email: str
    full_name: str


TransactionStatus = Literal["SUCCESS", "FAILED"]
Direction = Literal["sent", "received"]


class TransferReceipt(ResponseModel):
    reference_id: str
    status: TransactionStatus
    amount: Money
    receiver: Party
    note: str | None
    created_at: Timestamp
    balance: Money = Field(description="The sender's balance right after the transfer.")


class Balance(ResponseModel):
    balance: Money
    currency: Literal["INR"] = "INR"
    version: int


class HistoryEntry(ResponseModel):
    reference_id: str
    direction: Direction
    counterparty: Party
    amount: Money
    status: TransactionStatus
    note: str | None
    created_at: Timestamp


class HistoryPage(ResponseModel):
    results: list[HistoryEntry]
    next_cursor: str | None


class TransactionDetail(ResponseModel):
    reference_id: str
    kind: Literal["TRANSFER", "WELCOME_CREDIT"]
    status: TransactionStatus
    direction: Direction
    amount: Money
    sender: Party
    receiver: Party
    note: str | None
    failure_reason: str | None
    created_at: Timestamp


class Health(ResponseModel):
    status: Literal["ok"] = "ok"
