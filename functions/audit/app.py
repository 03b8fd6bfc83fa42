"""Audit: consumes the main table's stream and appends one audit record per auditable change.

Partial batch responses (Powertools BatchProcessor): a record that fails is reported by its
sequence number, and the event source mapping retries from it (bisecting, up to its retry
limit, then the on-failure queue) while the rest of the batch stands.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from vaultpay.dal.stream import read_record
from vaultpay.observability import logger, metrics, tracer
from vaultpay.services.audit import audit_service

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    found = read_record(record)
    if found is None:
        metrics.add_metric(name="StreamRecordSkipped", unit=MetricUnit.Count, value=1)
        return
    audited = audit_service().record(*found)
    metrics.add_metric(name="AuditRecorded", unit=MetricUnit.Count, value=1)
    if audited.verified is False:
        logger.error(
            "balance change does not match its transaction", extra={"audit": audited.details, "mismatch": audited.mismatch}
        )
        metrics.add_metric(name="AuditMismatch", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
