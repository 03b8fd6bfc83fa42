"""Changes to the main table that the audit trail records, as read from its stream."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from vaultpay.core.records import TransactionRecord


class _Change(BaseModel):
    model_config = ConfigDict(frozen=True)


class UserRegistered(_Change):
    kind: Literal["user_registered"] = "user_registered"
    user_id: str


class AccountOpened(_Change):
    kind: Literal["account_opened"] = "account_opened"
    user_id: str
    balance: int
    reference_id: str | None


class BalanceChanged(_Change):
    kind: Literal["balance_changed"] = "balance_changed"
    user_id: str
    old_balance: int
    new_balance: int
    version: int
    reference_id: str | None
    previous_reference_id: str | None

    @property
    def delta(self) -> int:
        return self.new_balance - self.old_balance


class TransactionCreated(_Change):
    kind: Literal["transaction_created"] = "transaction_created"
    transaction: TransactionRecord


class AadhaarRevealed(_Change):
    kind: Literal["aadhaar_revealed"] = "aadhaar_revealed"
    user_id: str
    request_id: str
    at: datetime


class RefreshFamilyRevoked(_Change):
    kind: Literal["refresh_family_revoked"] = "refresh_family_revoked"
    user_id: str
    family_id: str
    reason: str


class StreamEvent(_Change):
    """Where a change came from: the stream record's id, sequence number and time."""

    event_id: str
    sequence_number: str
    occurred_at: datetime


Change = UserRegistered | AccountOpened | BalanceChanged | TransactionCreated | AadhaarRevealed | RefreshFamilyRevoked


AuditKind = Literal[
    "user_registered",
    "account_opened",
    "account_debited",
    "account_credited",
    "transaction_created",
    "aadhaar_revealed",
    "refresh_family_revoked",
]


class AuditSubject(BaseModel):
    """What an audit record is about: a user or a transaction (the adapter writes it as the table's key)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["user", "transaction"]
    id: str


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    kind: AuditKind
    subject: AuditSubject
    occurred_at: datetime
    recorded_at: datetime
    sequence_number: str
    details: dict[str, Any]
    verified: bool | None = None
    mismatch: str | None = None
