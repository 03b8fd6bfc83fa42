"""Audit: consumes the main table's stream and appends one audit record per auditable change.

Partial batch responses (Powertools BatchProcessor): a record that cannot be read is reported
by its sequence number, and the event source mapping retries from it (bisecting, up to its
retry limit, then the on-failure queue) while the rest of the batch is recorded. Recording
itself is all or nothing for the batch: if it fails, the invocation fails and the batch comes
back, and what was already written is not written twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from vaultpay.audit.composition import audit_service
from vaultpay.audit.models import Change, StreamEvent
from vaultpay.audit.stream import read_record
from vaultpay.core.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@tracer.capture_method
def read(record: DynamoDBRecord) -> tuple[StreamEvent, Change] | None:
    return read_record(record)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    with processor(records=event["Records"], handler=read, lambda_context=context):
        outcomes = processor.process()
    changes = [result for status, result, _ in outcomes if status == "success" and result is not None]
    audited = audit_service().record_all(changes)
    metrics.add_metric(name="AuditRecorded", unit=MetricUnit.Count, value=len(audited))
    metrics.add_metric(name="StreamRecordSkipped", unit=MetricUnit.Count, value=len(outcomes) - len(changes))
    for record in audited:
        if record.verified is False:
            logger.error(
                "balance change does not match its transaction", extra={"audit": record.details, "mismatch": record.mismatch}
            )
            metrics.add_metric(name="AuditMismatch", unit=MetricUnit.Count, value=1)
    return processor.response()
