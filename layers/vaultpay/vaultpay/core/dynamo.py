"""Small helpers over the low-level DynamoDB client: (un)marshalling and error reading."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from vaultpay.core.errors import ConcurrentUpdate

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

Item = dict[str, Any]


def marshal(item: Mapping[str, Any]) -> dict[str, Any]:
    """Python values to DynamoDB attribute values; ``None`` attributes are left out."""
    return {key: _serializer.serialize(value) for key, value in item.items() if value is not None}


def marshal_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Expression attribute values (``None`` is kept as NULL there)."""
    return {key: _serializer.serialize(value) for key, value in values.items()}


def unmarshal(item: Mapping[str, Any]) -> Item:
    """DynamoDB attribute values to Python; numbers that are whole become ``int``."""
    return {key: to_plain(_deserializer.deserialize(value)) for key, value in item.items()}


def to_plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {key: to_plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [to_plain(inner) for inner in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), (bytes, bytearray)):
        return bytes(value.value)
    return value


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def cancellation_codes(error: ClientError) -> list[str]:
    """The per-item codes of a cancelled TransactWriteItems, in request order ("None" = fine)."""
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code") or "None") for reason in reasons]


def failed_conditions(error: ClientError) -> set[int]:
    """Indexes of the items whose condition failed in a cancelled transaction; empty when
    DynamoDB gave no reasons (then nothing can be said of why, and the error stands)."""
    return {index for index, code in enumerate(cancellation_codes(error)) if code == "ConditionalCheckFailed"}


def cancellation_old_item(error: ClientError, index: int) -> Item | None:
    """The item a failed condition saw (needs ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    reasons = error.response.get("CancellationReasons") or []
    if index >= len(reasons):
        return None
    item = reasons[index].get("Item")
    return unmarshal(item) if item else None


def iso(moment: datetime) -> str:
    """A sortable UTC timestamp with microseconds: 2026-11-24T15:16:08.123456Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def transact_write(client: Any, items: list[dict[str, Any]], *, conflict_retries: int) -> None:
    """TransactWriteItems, retrying TransactionConflict cancellations with full-jitter backoff.

    Any other cancellation is re-raised as the ClientError for the caller to read item by
    item; after ``conflict_retries`` conflicts in a row, ConcurrentUpdate.
    """
    for attempt in range(conflict_retries + 1):
        try:
            client.transact_write_items(TransactItems=items)
            return
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            if "TransactionConflict" not in cancellation_codes(error) or failed_conditions(error):
                raise
            if attempt == conflict_retries:
                raise ConcurrentUpdate() from error
            time.sleep(random.uniform(0, min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**attempt)))  # noqa: S311


@dataclass(frozen=True)
class TransactItem:
    """One item of a TransactWriteItems and what a failure of its condition means in the domain.

    ``on_condition_failed`` builds the domain error from the item the condition saw (present when
    the item asks for ``ReturnValuesOnConditionCheckFailure=ALL_OLD``, else None); an item without
    it has a condition that cannot fail in normal operation, and its failure stays a ClientError.
    When several conditions fail at once, the error of the item with the lowest ``precedence`` wins.
    """

    request: dict[str, Any]
    on_condition_failed: Callable[[Item | None], Exception] | None = None
    precedence: int = 0


def write_transaction(client: Any, items: Sequence[TransactItem], *, conflict_retries: int) -> None:
    """TransactWriteItems of ``items`` (TransactionConflict retried as ``transact_write`` does); a
    cancellation is raised as the domain error of the item whose condition failed, by its role in
    the transaction rather than by an index the caller has to keep in step with the list."""
    try:
        transact_write(client, [item.request for item in items], conflict_retries=conflict_retries)
    except ClientError as error:
        domain_error = cancellation_error(error, items)
        if domain_error is None:
            raise
        raise domain_error from None


def cancellation_error(error: ClientError, items: Sequence[TransactItem]) -> Exception | None:
    """The domain error a cancelled transaction means, or None when it means none that the items
    name (then the ClientError stands: nothing can honestly be said of why)."""
    if error_code(error) != "TransactionCanceledException":
        return None
    explained = sorted(
        (items[index].precedence, index)
        for index in failed_conditions(error)
        if index < len(items) and items[index].on_condition_failed is not None
    )
    if not explained:
        return None
    index = explained[0][1]
    build = items[index].on_condition_failed
    assert build is not None
    return build(cancellation_old_item(error, index))


_BACKOFF_BASE_SECONDS = 0.02
_BACKOFF_CAP_SECONDS = 0.4


def read_item(
    client: Any, table: str, key: Mapping[str, Any], *, projection: str | None = None, consistent: bool = True
) -> Item | None:
    """One item by its key (strongly consistent unless told otherwise), unmarshalled; None when absent."""
    request: dict[str, Any] = {"TableName": table, "Key": marshal(key), "ConsistentRead": consistent}
    if projection:
        request["ProjectionExpression"] = projection
    item = client.get_item(**request).get("Item")
    return unmarshal(item) if item else None
