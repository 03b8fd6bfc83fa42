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

TransactionKind = Literal["TRANSFER", "WELCOME_CREDIT", "LOAN_COMMITMENT", "LOAN_REFUND", "LOAN_DISBURSAL", "LOAN_REPAYMENT"]
TransactionStatus = Literal["SUCCESS", "FAILED", "PENDING", "REFUNDED"]
"""PENDING: a loan commitment held in its loan's escrow; it becomes SUCCESS when the loan is
disbursed, REFUNDED when the escrow gives it back (a LOAN_REFUND of its own)."""
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


class Leg(_Record):
    """One receiver's part of a transaction that pays several people (a loan repayment)."""

    party: PartyRef
    amount: int = Field(ge=0)


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
    loan_id: str | None = None
    # A repayment's receivers: every lender with their part (the receiver is then the loan itself).
    legs: tuple[Leg, ...] = ()


def balance_moves(txn: TransactionRecord) -> list[tuple[PartyRef, Direction, int]]:
    """Whose balance a transaction moves, which way, by how much: the ledger entries it has and
    the balance changes the audit trail must see. A loan's escrow is not an account: money going
    into it or out of it moves one balance only."""
    if txn.status == "FAILED":
        return []
    if txn.kind == "LOAN_COMMITMENT":
        return [(txn.sender, "sent", txn.amount)]
    if txn.kind in ("LOAN_REFUND", "LOAN_DISBURSAL"):
        return [(txn.receiver, "received", txn.amount)]
    if txn.kind == "LOAN_REPAYMENT":
        # A lender whose part of this payment rounds to nothing is not paid by it.
        return [(txn.sender, "sent", txn.amount), *((leg.party, "received", leg.amount) for leg in txn.legs if leg.amount)]
    return [(txn.sender, "sent", txn.amount), (txn.receiver, "received", txn.amount)]


def ledger_sides(txn: TransactionRecord) -> list[tuple[PartyRef, Direction, int]]:
    """The ledger entries of a transaction: those whose balance it moves; a failed one has the
    sender's entry alone (it moved nothing, and says so in the sender's history)."""
    if txn.status == "FAILED":
        return [(txn.sender, "sent", txn.amount)]
    return balance_moves(txn)


class LedgerEntry(_Record):
    reference_id: str
    direction: Direction
    counterparty: PartyRef
    amount: int
    status: TransactionStatus
    note: str | None = None
    created_at: datetime
    kind: TransactionKind | None = None
    loan_id: str | None = None
