"""The append-only audit table: conditional puts keyed by the stream event id, nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from vaultpay.audit.models import AuditRecord, AuditSubject
from vaultpay.core import table as keys
from vaultpay.core.dynamo import error_code, iso, marshal


def _subject_key(subject: AuditSubject) -> str:
    return keys.user_pk(subject.id) if subject.kind == "user" else keys.txn_pk(subject.id)


class DynamoAuditStore:
    # Conditional puts cannot be batched (BatchWriteItem takes no conditions, and a transaction
    # would double the write cost); they are independent, so they run side by side.
    PARALLEL_PUTS = 16

    def __init__(self, client: Any, audit_table: str) -> None:
        self._client = client
        self._audit = audit_table
        self._pool = ThreadPoolExecutor(max_workers=self.PARALLEL_PUTS, thread_name_prefix="audit-put")

    def append_all(self, records: Sequence[AuditRecord]) -> list[AuditRecord]:
        """Append every record (those already there are left alone); return the ones that were
        new. Any other failure propagates, so the batch is retried and nothing is lost."""
        written = list(self._pool.map(self.append, records))
        return [record for record, new in zip(records, written, strict=True) if new]

    def append(self, record: AuditRecord) -> bool:
        """Write ``record`` unless its stream event is already recorded; True when written."""
        try:
            self._client.put_item(
                TableName=self._audit,
                Item=marshal(
                    {
                        "event_id": record.event_id,
                        "kind": record.kind,
                        "subject": _subject_key(record.subject),
                        "occurred_at": iso(record.occurred_at),
                        "recorded_at": iso(record.recorded_at),
                        "sequence_number": record.sequence_number,
                        "details": record.details,
                        "verified": record.verified,
                        "mismatch": record.mismatch,
                    }
                ),
                ConditionExpression="attribute_not_exists(event_id)",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True
