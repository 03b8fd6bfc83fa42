"""The append-only audit table: conditional puts keyed by the stream event id, nothing else."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from vaultpay.dal.dynamo import error_code, iso, marshal
from vaultpay.models.changes import AuditRecord


class DynamoAuditStore:
    def __init__(self, client: Any, audit_table: str) -> None:
        self._client = client
        self._audit = audit_table

    def append(self, record: AuditRecord) -> bool:
        """Write ``record`` unless its stream event is already recorded; True when written."""
        try:
            self._client.put_item(
                TableName=self._audit,
                Item=marshal(
                    {
                        "event_id": record.event_id,
                        "kind": record.kind,
                        "subject": record.subject,
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
