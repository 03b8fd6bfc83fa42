"""A DynamoDB Streams event source mapping, as Lambda runs one, for the local stack.

Polls every shard of the table's stream (parents before children), hands batches to the
consumer function in Lambda's event shape, and honours the mapping's settings from the
template: BatchSize, ReportBatchItemFailures (resume from the first failed record),
BisectBatchOnFunctionError (split a failing batch in two), MaximumRetryAttempts and
MaximumRecordAgeInSeconds (then an on-failure record to the SQS destination, and move on).
Checkpoints can be kept in a file, so a restarted stack does not replay the whole stream.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local.runtime import FunctionPool, InvocationFailed
from local.template import StreamSubscription

POLL_INTERVAL_SECONDS = 0.2
# As Lambda's poller does, read more than one batch per GetRecords call and deliver it in batches.
GET_RECORDS_LIMIT = 1000

LogSink = Callable[[str, str], None]


def _as_json(value: Any) -> Any:
    """Attribute values as Lambda's JSON event carries them: binary (B, BS) base64-encoded."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {key: _as_json(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_as_json(inner) for inner in value]
    return value


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record in the shape Lambda delivers it (binary attributes base64-encoded, as in
    Lambda's JSON event: botocore hands them over as bytes, which no JSON event can carry)."""
    dynamodb = {
        name: _as_json(value) if name in ("Keys", "NewImage", "OldImage") else value for name, value in record["dynamodb"].items()
    }
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None = None
    closed: bool = False
    pending: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0


class StreamPoller:
    def __init__(
        self,
        *,
        streams_client: Any,
        sqs_client: Any,
        stream_arn: str,
        subscription: StreamSubscription,
        pool: FunctionPool,
        on_failure_queue_url: str | None,
        region: str,
        log_sink: LogSink,
        checkpoint_file: Path | None = None,
    ) -> None:
        self._streams = streams_client
        self._sqs = sqs_client
        self._arn = stream_arn
        self._subscription = subscription
        self._pool = pool
        self._queue_url = on_failure_queue_url
        self._region = region
        self._log = log_sink
        self._checkpoint_file = checkpoint_file
        self._checkpoints: dict[str, str] = (
            json.loads(checkpoint_file.read_text()) if checkpoint_file and checkpoint_file.exists() else {}
        )
        self._shards: dict[str, _Shard] = {}
        self._finished: set[str] = set(self._checkpoints.get("__finished__", "").split()) - {""}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-poller", daemon=True)
        self.delivered = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------ polling
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self._poll_once()
            except ClientError as error:
                self._log("streams", f"poll failed: {error}")
                busy = False
            if not busy:
                self._stop.wait(POLL_INTERVAL_SECONDS)

    def _discover(self) -> None:
        description = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id in self._shards or shard_id in self._finished:
                continue
            self._shards[shard_id] = _Shard(shard_id=shard_id, parent_id=shard.get("ParentShardId"))

    def _iterator(self, shard: _Shard) -> str:
        checkpoint = self._checkpoints.get(shard.shard_id)
        position: dict[str, str] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": checkpoint} if checkpoint else {}
        )
        if not checkpoint:
            position["ShardIteratorType"] = "TRIM_HORIZON" if self._subscription.starting_position == "TRIM_HORIZON" else "LATEST"
        response = self._streams.get_shard_iterator(StreamArn=self._arn, ShardId=shard.shard_id, **position)
        return str(response["ShardIterator"])

    def _poll_once(self) -> bool:
        self._discover()
        busy = False
        for shard in list(self._shards.values()):
            if shard.parent_id and shard.parent_id in self._shards:
                continue  # a child waits until its parent is drained, preserving per-item order
            busy |= self._poll_shard(shard)
        return busy

    def _poll_shard(self, shard: _Shard) -> bool:
        if not shard.pending and not shard.closed:
            if shard.iterator is None:
                shard.iterator = self._iterator(shard)
            try:
                response = self._streams.get_records(ShardIterator=shard.iterator, Limit=GET_RECORDS_LIMIT)
            except ClientError as error:
                if error.response["Error"]["Code"] in ("ExpiredIteratorException", "TrimmedDataAccessException"):
                    shard.iterator = None
                    return False
                raise
            shard.pending = [lambda_record(record, self._arn, self._region) for record in response.get("Records", [])]
            shard.iterator = response.get("NextShardIterator")
            shard.closed = shard.iterator is None
        if shard.pending:
            self._deliver(shard)
            return True
        if shard.closed:
            del self._shards[shard.shard_id]
            self._finished.add(shard.shard_id)
            self._save_checkpoints()
        return False

    # ------------------------------------------------------------ delivery
    def _deliver(self, shard: _Shard) -> None:
        batch = shard.pending[: self._subscription.batch_size]
        expired = self._expired_prefix(batch)
        if expired:
            self._send_to_destination(shard, expired, "RecordAgeExceeded")
            self._advance(shard, len(expired))
            return
        failed_from = self._invoke(batch)
        if failed_from is None:
            self.delivered += len(batch)
            self._advance(shard, len(batch))
            return
        self.delivered += failed_from
        self._advance(shard, failed_from)
        shard.attempts += 1
        if 0 <= self._subscription.maximum_retry_attempts < shard.attempts:
            rest = shard.pending[: self._subscription.batch_size]
            self._send_to_destination(shard, rest, "RetryAttemptsExhausted")
            self._advance(shard, len(rest))

    def _expired_prefix(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        limit = self._subscription.maximum_record_age_seconds
        if limit < 0:
            return []
        now = time.time()
        expired = []
        for record in batch:
            if now - float(record["dynamodb"].get("ApproximateCreationDateTime", now)) <= limit:
                break
            expired.append(record)
        return expired

    def _invoke(self, batch: list[dict[str, Any]]) -> int | None:
        """Deliver ``batch``; None when all of it is done, else the index to resume from."""
        try:
            result = self._pool.invoke({"Records": batch})
        except InvocationFailed as failure:
            self._log("streams", f"batch of {len(batch)} failed: {failure}")
            if self._subscription.bisect_on_error and len(batch) > 1:
                half = len(batch) // 2
                first = self._invoke(batch[:half])
                if first is not None:
                    return first
                second = self._invoke(batch[half:])
                return None if second is None else half + second
            return 0
        failures = (result or {}).get("batchItemFailures") if self._subscription.report_batch_item_failures else None
        if not failures:
            return None
        failed = {failure.get("itemIdentifier") for failure in failures}
        for index, record in enumerate(batch):
            if record["dynamodb"]["SequenceNumber"] in failed:
                return index
        return 0  # an identifier we did not send: Lambda retries the whole batch

    def _advance(self, shard: _Shard, count: int) -> None:
        if count <= 0:
            return
        last = shard.pending[count - 1]
        shard.pending = shard.pending[count:]
        shard.attempts = 0
        self._checkpoints[shard.shard_id] = last["dynamodb"]["SequenceNumber"]
        self._save_checkpoints()

    def _send_to_destination(self, shard: _Shard, records: list[dict[str, Any]], condition: str) -> None:
        self._log("streams", f"{len(records)} record(s) sent to the on-failure destination: {condition}")
        if self._queue_url is None:
            return
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=json.dumps(
                {
                    "requestContext": {"condition": condition, "approximateInvokeCount": shard.attempts + 1},
                    "timestamp": datetime.now(UTC).isoformat(),
                    "DDBStreamBatchInfo": {
                        "shardId": shard.shard_id,
                        "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                        "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                        "batchSize": len(records),
                        "streamArn": self._arn,
                    },
                }
            ),
        )

    def _save_checkpoints(self) -> None:
        if self._checkpoint_file is None:
            return
        data = {**self._checkpoints, "__finished__": " ".join(sorted(self._finished))}
        temporary = self._checkpoint_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(self._checkpoint_file)
