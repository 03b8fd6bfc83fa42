"""The audit trail: one append-only record per auditable change, each balance change checked
against the transaction it names.

Records of one transaction arrive from different shards, in any order and interleaved with
others, so nothing here assumes an order: a balance change is checked against the transaction
itself — from the same batch when the batch carries it, else read from the table (it was
written in the same DynamoDB transaction) — never against earlier records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vaultpay.audit.models import (
    AadhaarRevealed,
    AccountOpened,
    AuditKind,
    AuditRecord,
    AuditSubject,
    BalanceChanged,
    Change,
    RefreshFamilyRevoked,
    StreamEvent,
    TransactionCreated,
    UserRegistered,
)
from vaultpay.audit.ports import AuditStore, TransactionLookup
from vaultpay.core.records import TransactionRecord, balance_moves


def check_balance_change(user_id: str, delta: int, txn: TransactionRecord | None) -> str | None:
    """Why a balance change does not match its transaction, or None when it does: the change must
    be exactly what the transaction moves on that account (``records.balance_moves``)."""
    if txn is None:
        return "the change names no known transaction"
    if txn.status == "FAILED":
        return f"the transaction is {txn.status}"
    moves = [
        amount if direction == "received" else -amount
        for party, direction, amount in balance_moves(txn)
        if party.user_id == user_id
    ]
    if moves and delta == sum(moves):
        return None
    return f"delta {delta} does not match the {txn.kind} of {txn.amount} from {txn.sender.user_id} to {txn.receiver.user_id}"


@dataclass(frozen=True)
class AuditService:
    store: AuditStore
    transactions: TransactionLookup
    clock: Callable[[], datetime]

    def record_all(self, changes: Sequence[tuple[StreamEvent, Change]]) -> list[AuditRecord]:
        """Append the audit records of a batch of changes and return the new ones: a stream event
        already recorded is neither written nor returned again, so a redelivered batch is not
        counted (or reported as a mismatch) twice. The transactions the balance changes name are
        read once for the batch."""
        in_batch = {
            change.transaction.reference_id: change.transaction for _, change in changes if isinstance(change, TransactionCreated)
        }
        named = {
            change.reference_id
            for _, change in changes
            if isinstance(change, (AccountOpened, BalanceChanged)) and change.reference_id
        }
        known = {**self.transactions.get_transactions(named - in_batch.keys()), **in_batch}
        records = [self._build(event, change, known) for event, change in changes]
        return self.store.append_all(records)

    def _build(self, event: StreamEvent, change: Change, transactions: Mapping[str, TransactionRecord]) -> AuditRecord:
        recorded_at = self.clock()

        def audit_record(kind: AuditKind, subject: AuditSubject, details: dict[str, Any]) -> AuditRecord:
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
            return audit_record("user_registered", AuditSubject(kind="user", id=change.user_id), {"user_id": change.user_id})
        if isinstance(change, (AccountOpened, BalanceChanged)):
            return self._balance_record(change, audit_record, transactions)
        if isinstance(change, TransactionCreated):
            txn = change.transaction
            return audit_record(
                "transaction_created",
                AuditSubject(kind="transaction", id=txn.reference_id),
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
                "aadhaar_revealed",
                AuditSubject(kind="user", id=change.user_id),
                {"user_id": change.user_id, "request_id": change.request_id},
            )
        if isinstance(change, RefreshFamilyRevoked):
            return audit_record(
                "refresh_family_revoked",
                AuditSubject(kind="user", id=change.user_id),
                {"user_id": change.user_id, "family_id": change.family_id, "reason": change.reason},
            )
        raise TypeError(f"no audit record for {type(change).__name__}")

    def _balance_record(
        self,
        change: AccountOpened | BalanceChanged,
        audit_record: Callable[[AuditKind, AuditSubject, dict[str, Any]], AuditRecord],
        transactions: Mapping[str, TransactionRecord],
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
                txn = transactions.get(reference_id) if reference_id else None
                mismatch = check_balance_change(change.user_id, new_balance - old_balance, txn)
        record = audit_record(
            kind,
            AuditSubject(kind="user", id=change.user_id),
            {
                "user_id": change.user_id,
                "reference_id": reference_id,
                "old_balance": old_balance,
                "new_balance": new_balance,
                "amount": abs(new_balance - old_balance),
            },
        )
        return record.model_copy(update={"verified": mismatch is None, "mismatch": mismatch})
