"""The wallet feature's ports: what its logic needs from the outside world, as Protocols.

The DynamoDB and KMS adapters implement them in production; the unit tests use in-memory fakes."""

from __future__ import annotations

from typing import Protocol

from vaultpay.core.records import AccountRecord, Direction, LedgerEntry, PartyRef, TransactionRecord


class WalletStore(Protocol):
    def load_parties(self, sender_id: str, receiver_email: str) -> tuple[AccountRecord | None, PartyRef | None]: ...
    def commit_transfer(self, txn: TransactionRecord) -> None: ...
    def record_failed_transfer(self, txn: TransactionRecord) -> None: ...
    def get_transaction(self, reference_id: str) -> TransactionRecord | None: ...
    def get_balance(self, user_id: str) -> tuple[int, int] | None: ...
    def history(
        self, user_id: str, direction: Direction | None, limit: int, after: str | None
    ) -> tuple[list[LedgerEntry], str | None]: ...
