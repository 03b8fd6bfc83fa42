"""The audit feature's ports: what its logic needs from the outside world, as Protocols.

The DynamoDB and KMS adapters implement them in production; the unit tests use in-memory fakes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from vaultpay.audit.models import AuditRecord
from vaultpay.core.records import TransactionRecord


class AuditStore(Protocol):
    def append_all(self, records: Sequence[AuditRecord]) -> list[AuditRecord]:
        """Append the records not yet there; return those (a redelivered record is not new)."""
        ...


class TransactionLookup(Protocol):
    def get_transactions(self, reference_ids: Collection[str]) -> dict[str, TransactionRecord]: ...
