"""Domain records: what the logic works with and the data-access layer stores.

They carry no HTTP and no DynamoDB shapes; ``vaultpay.dal`` maps them to items.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SYSTEM_USER_ID = "SYSTEM"
"""The issuance account: the only account allowed below zero. Its balance is minus the money issued."""

TransactionKind = Literal["TRANSFER", "WELCOME_CREDIT"]
TransactionStatus = Literal["SUCCESS", "FAILED"]
Direction = Literal["sent", "received"]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PartyRef(_Record):
    user_id: str
    email: str
    full_name: str


SYSTEM_PARTY = PartyRef(user_id=SYSTEM_USER_ID, email="system@vaultpay.internal", full_name="VaultPay")


class NewUser(_Record):
    user_id: str
    email: str
    full_name: str
    password_hash: str
    aadhaar_last4: str = Field(pattern=r"^[0-9]{4}$")
    created_at: datetime


class ProfileRecord(_Record):
    user_id: str
    email: str
    full_name: str
    password_hash: str
    aadhaar_last4: str
    created_at: datetime

    @property
    def party(self) -> PartyRef:
        return PartyRef(user_id=self.user_id, email=self.email, full_name=self.full_name)


class AccountRecord(_Record):
    user_id: str
    email: str
    full_name: str
    balance: int
    version: int

    @property
    def party(self) -> PartyRef:
        return PartyRef(user_id=self.user_id, email=self.email, full_name=self.full_name)


class TransactionRecord(_Record):
    reference_id: str
    kind: TransactionKind
    status: TransactionStatus
    sender: PartyRef
    receiver: PartyRef
    amount: int = Field(gt=0)
    note: str | None = None
    failure_reason: str | None = None
    created_at: datetime


class LedgerEntry(_Record):
    reference_id: str
    direction: Direction
    counterparty: PartyRef
    amount: int
    status: TransactionStatus
    note: str | None = None
    created_at: datetime


class SealedAadhaar(_Record):
    """An Aadhaar number under envelope encryption: only the wrapped data key is stored."""

    key_id: str
    wrapped_key: bytes
    nonce: bytes = Field(min_length=12, max_length=12)
    ciphertext: bytes
    algorithm: Literal["AES-256-GCM"] = "AES-256-GCM"


class DataKey(_Record):
    key_id: str
    plaintext: bytes = Field(repr=False)
    wrapped: bytes


class RefreshTokenRecord(_Record):
    token_hash: str
    user_id: str
    family_id: str
    status: Literal["ACTIVE", "USED"]
    expires_at: int


class LoginFailures(_Record):
    count: int
    window_started_at: int
    locked_until: int | None = None
