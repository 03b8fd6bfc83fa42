"""Domain records: what the logic works with and the data-access layer stores.

They carry no HTTP and no DynamoDB shapes; the features' DynamoDB adapters map them to items
(``vaultpay.core.table``). Records of one feature only live in that feature's models.
"""

from __future__ import annotations

import re
import zlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SYSTEM_USER_ID = "SYSTEM"
"""The issuance account as it was before it was sharded: still recognized (an older table holds
it), no longer written. The issuance accounts are the only accounts allowed below zero; their
balances sum to minus the money issued."""
SYSTEM_EMAIL = "system@vaultpay.internal"
SYSTEM_NAME = "VaultPay"
_SYSTEM_SHARD = re.compile(r"^SYSTEM-[0-9]{2,}$")

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


SYSTEM_PARTY = PartyRef(user_id=SYSTEM_USER_ID, email=SYSTEM_EMAIL, full_name=SYSTEM_NAME)
"""The legacy unsharded issuance account."""


def system_shard_id(shard: int) -> str:
    """The user id of one shard of the issuance account: SYSTEM-00, SYSTEM-01, ..."""
    return f"SYSTEM-{shard:02d}"


def is_system_account(user_id: str) -> bool:
    """An issuance account: one of its shards, or the legacy unsharded one."""
    return user_id == SYSTEM_USER_ID or _SYSTEM_SHARD.match(user_id) is not None


def system_party_for(user_id: str, shards: int) -> PartyRef:
    """The issuance shard that pays ``user_id``'s welcome credit: spread by a hash of the (random)
    user id, so that registrations at once write different items, and a retry picks the same one."""
    shard = zlib.crc32(user_id.encode()) % shards
    return PartyRef(user_id=system_shard_id(shard), email=SYSTEM_EMAIL, full_name=SYSTEM_NAME)


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
    # A transfer's: the sender's balance right after it (what its receipt says, replays included).
    # Known exactly because the debit was conditioned on the balance before; never shown to the receiver.
    sender_balance_after: int | None = None


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
