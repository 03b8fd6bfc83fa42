"""The audit trail: one append-only record per auditable change, each balance change checked
against the transaction it names.

Records of one transaction arrive from different shards, in any order and interleaved with
others, so nothing here assumes an order: a balance change is checked against the stored
transaction itself (written in the same DynamoDB transaction), never against earlier records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from vaultpay.models.changes import (
    AadhaarRevealed,
    AccountOpened,
    AuditKind,
    AuditRecord,
    BalanceChanged,
    Change,
    RefreshFamilyRevoked,
    StreamEvent,
    TransactionCreated,
    UserRegistered,
)
from vaultpay.models.records import TransactionRecord


class AuditStore(Protocol):
    def append(self, record: AuditRecord) -> bool: ...


class TransactionLookup(Protocol):
    def get_transaction(self, reference_id: str) -> TransactionRecord | None: ...


def check_balance_change(user_id: str, delta: int, txn: TransactionRecord | None) -> str | None:
    """Why a balance change does not match its transaction, or None when it does."""
    if txn is None:
        return "the change names no known transaction"
    if txn.status != "SUCCESS":
        return f"the transaction is {txn.status}"
    if user_id == txn.sender.user_id and delta == -txn.amount:
        return None
    if user_id == txn.receiver.user_id and delta == txn.amount:
        return None
    return f"delta {delta} does not match {txn.amount} from {txn.sender.user_id} to {txn.receiver.user_id}"


@dataclass(frozen=True)
class AuditService:
    store: AuditStore
    transactions: TransactionLookup
    clock: Callable[[], datetime]

    def record(self, event: StreamEvent, change: Change) -> AuditRecord:
        """Append the audit record of ``change``; a stream event already recorded is not written twice."""
        record = self._build(event, change)
        self.store.append(record)
        return record

    def _build(self, event: StreamEvent, change: Change) -> AuditRecord:
        recorded_at = self.clock()

        def audit_record(kind: AuditKind, subject: str, details: dict[str, Any]) -> AuditRecord:
            return AuditRecord(
                event_id=event.event_id,
                kind=kind,
                subject=subject,
                occurred_at=event.occurred_at,
                recorded_at=recorded_at,
                sequence_number=event.sequence_number,
                details=details,
            )

        if isinstance(change, UserRegistered):
            return audit_record("user_registered", f"USER#{change.user_id}", {"user_id": change.user_id})
        if isinstance(change, (AccountOpened, BalanceChanged)):
            return self._balance_record(change, audit_record)
        if isinstance(change, TransactionCreated):
            txn = change.transaction
            return audit_record(
                "transaction_created",
                f"TXN#{txn.reference_id}",
                {
                    "reference_id": txn.reference_id,
                    "transaction_kind": txn.kind,
                    "status": txn.status,
                    "sender_id": txn.sender.user_id,
                    "receiver_id": txn.receiver.user_id,
                    "amount": txn.amount,
                    "failure_reason": txn.failure_reason,
                },
            )
        if isinstance(change, AadhaarRevealed):
            return audit_record(
                "aadhaar_revealed", f"USER#{change.user_id}", {"user_id": change.user_id, "request_id": change.request_id}
            )
        if isinstance(change, RefreshFamilyRevoked):
            return audit_record(
                "refresh_family_revoked",
                f"USER#{change.user_id}",
                {"user_id": change.user_id, "family_id": change.family_id, "reason": change.reason},
            )
        raise TypeError(f"no audit record for {type(change).__name__}")

    def _balance_record(
        self, change: AccountOpened | BalanceChanged, audit_record: Callable[[AuditKind, str, dict[str, Any]], AuditRecord]
    ) -> AuditRecord:
        if isinstance(change, AccountOpened):
            old_balance, new_balance, reference_id = 0, change.balance, change.reference_id
            kind: AuditKind = "account_opened"
            moved = new_balance != 0
        else:
            old_balance, new_balance, reference_id = change.old_balance, change.new_balance, change.reference_id
            kind = "account_debited" if change.delta < 0 else "account_credited"
            moved = True
        mismatch = None
        if moved:
            if isinstance(change, BalanceChanged) and reference_id == change.previous_reference_id:
                mismatch = "the balance changed without a new transaction"
            else:
                txn = self.transactions.get_transaction(reference_id) if reference_id else None
                mismatch = check_balance_change(change.user_id, new_balance - old_balance, txn)
        record = audit_record(
            kind,
            f"USER#{change.user_id}",
            {
                "user_id": change.user_id,
                "reference_id": reference_id,
                "old_balance": old_balance,
                "new_balance": new_balance,
                "amount": abs(new_balance - old_balance),
            },
        )
        return record.model_copy(update={"verified": mismatch is None, "mismatch": mismatch})
