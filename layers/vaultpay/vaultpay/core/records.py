"""Domain records: what the logic works with and the data-access layer stores.

They carry no HTTP and no DynamoDB shapes; the features' DynamoDB adapters map them to items
(``vaultpay.core.table``). Records of one feature only live in that feature's models.
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
