"""Reading the main table's stream: which item changed how, as a domain change (or nothing to audit)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord, DynamoDBRecordEventName

from vaultpay.audit.models import (
    AadhaarRevealed,
    AccountOpened,
    BalanceChanged,
    Change,
    RefreshFamilyRevoked,
    StreamEvent,
    TransactionCreated,
    UserRegistered,
)
from vaultpay.core import table as keys
from vaultpay.core.dynamo import parse_iso, to_plain


class MalformedStreamRecord(ValueError):
    """A stream record this consumer cannot read: reported as a batch item failure."""


def _image(record: DynamoDBRecord, which: str) -> dict[str, Any] | None:
    stream = record.dynamodb
    if stream is None:
        raise MalformedStreamRecord("no dynamodb section")
    raw = stream.get(which)
    if not raw:
        return None
    image = stream.new_image if which == "NewImage" else stream.old_image
    return {name: to_plain(value) for name, value in image.items()}


def read_record(record: DynamoDBRecord) -> tuple[StreamEvent, Change] | None:
    """The auditable change a stream record carries, with where it came from; None for changes
    nobody audits (ledger entries, guards, tokens, counters, TTL deletions)."""
    stream = record.dynamodb
    if stream is None or not record.event_id or not stream.sequence_number:
        raise MalformedStreamRecord("not a DynamoDB stream record")
    change = _change(record)
    if change is None:
        return None
    event = StreamEvent(
        event_id=record.event_id,
        sequence_number=stream.sequence_number,
        occurred_at=datetime.fromtimestamp(stream.approximate_creation_date_time or 0, UTC),
    )
    return event, change


def _change(record: DynamoDBRecord) -> Change | None:
    event = record.event_name
    new = _image(record, "NewImage")
    old = _image(record, "OldImage")
    try:
        if event == DynamoDBRecordEventName.INSERT and new is not None:
            return _inserted(new)
        if event == DynamoDBRecordEventName.MODIFY and new is not None and old is not None:
            return _modified(old, new)
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedStreamRecord(f"unreadable {new.get('type') if new else 'item'}: {type(error).__name__}") from None
    if event is None:
        raise MalformedStreamRecord("no eventName")
    return None


def _inserted(new: dict[str, Any]) -> Change | None:
    item_type = new.get("type")
    if item_type == keys.TYPE_PROFILE:
        return UserRegistered(user_id=new["user_id"])
    if item_type == keys.TYPE_ACCOUNT:
        return AccountOpened(user_id=new["user_id"], balance=int(new["balance"]), reference_id=new.get("last_txn"))
    if item_type == keys.TYPE_TXN:
        return TransactionCreated(transaction=keys.transaction_from_item(new))
    if item_type == keys.TYPE_AADHAAR_REVEALED:
        return AadhaarRevealed(user_id=new["user_id"], request_id=new["request_id"], at=parse_iso(new["at"]))
    return None


def _modified(old: dict[str, Any], new: dict[str, Any]) -> Change | None:
    item_type = new.get("type")
    if item_type == keys.TYPE_ACCOUNT and int(old["balance"]) != int(new["balance"]):
        return BalanceChanged(
            user_id=new["user_id"],
            old_balance=int(old["balance"]),
            new_balance=int(new["balance"]),
            version=int(new["version"]),
            reference_id=new.get("last_txn"),
            previous_reference_id=old.get("last_txn"),
        )
    if item_type == keys.TYPE_FAMILY and new.get("revoked") is True and old.get("revoked") is not True:
        return RefreshFamilyRevoked(user_id=new["user_id"], family_id=new["family_id"], reason=str(new.get("revoked_reason")))
    return None
