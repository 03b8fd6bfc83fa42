"""The audit consumer: stream records become append-only audit records, exactly once (moto)."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest

from local.invoke import LiveData, fill
from local.template import ROOT
from tests.handlers.conftest import Invoke, body, invoker, scan_all
from tests.support.data import registration
from tests.support.events import LambdaContextStub, http_event
from tests.support.streams import stream_records
from vaultpay.core.records import system_party_for

pytestmark = pytest.mark.usefixtures("aws_stack")


@pytest.fixture
def audit(aws_stack: dict[str, str]) -> Invoke:
    return invoker("audit")


@pytest.fixture
def activity(identity: Invoke, wallet: Invoke, vault: Invoke) -> dict[str, str]:
    """Two users, one transfer, one failed transfer, one Aadhaar reveal, one logout."""
    asha = body(identity(http_event("POST", "/api/users/register/", body=registration("asha@example.com"))))
    ravi = body(identity(http_event("POST", "/api/users/register/", body=registration("ravi@example.com"))))
    ok = wallet(
        http_event(
            "POST",
            "/api/wallet/transfer/",
            body={"receiver_email": "ravi@example.com", "amount": "42.00"},
            headers={"idempotency-key": "audit-key-0001"},
            user_id=asha["id"],
        )
    )
    wallet(
        http_event(
            "POST",
            "/api/wallet/transfer/",
            body={"receiver_email": "ravi@example.com", "amount": "10000.00"},  # more than she has left
            headers={"idempotency-key": "audit-key-0002"},
            user_id=asha["id"],
        )
    )
    vault(http_event("POST", "/api/users/profile/aadhaar/", body={"password": registration("x")["password"]}, user_id=asha["id"]))
    tokens = body(
        identity(
            http_event("POST", "/api/users/login/", body={"email": "asha@example.com", "password": registration("x")["password"]})
        )
    )
    identity(http_event("POST", "/api/users/logout/", body={"refresh": tokens["refresh"]}, user_id=asha["id"]))
    return {"asha": asha["id"], "ravi": ravi["id"], "reference": body(ok)["reference_id"]}


def main_stream(aws_stack: dict[str, str]) -> list[dict[str, Any]]:
    table = boto3.client("dynamodb").describe_table(TableName=aws_stack["MAIN_TABLE_NAME"])["Table"]
    # botocore now derives an account-based endpoint from the stream ARN, which moto does not route.
    streams = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.ap-south-1.amazonaws.com")
    return stream_records(streams, table["LatestStreamArn"])


def audit_items(aws_stack: dict[str, str]) -> list[dict[str, Any]]:
    return scan_all(boto3.client("dynamodb"), aws_stack["AUDIT_TABLE_NAME"])


def kinds(items: list[dict[str, Any]]) -> list[str]:
    return sorted(item["kind"]["S"] for item in items)


def test_stream_records_become_audit_records(audit: Invoke, activity: dict[str, str], aws_stack: dict[str, str]) -> None:
    # When the stream so far is delivered to the consumer
    result = audit({"Records": main_stream(aws_stack)})
    # Then nothing failed and each auditable change has its record
    assert result == {"batchItemFailures": []}
    items = audit_items(aws_stack)
    # The two welcome credits came from the system account's shards their receivers' ids hash to:
    # the second opens another shard, or debits the one the first opened.
    one_shard = system_party_for(activity["asha"], 16) == system_party_for(activity["ravi"], 16)
    second_issue = "account_debited" if one_shard else "account_opened"
    assert kinds(items) == sorted(
        ["user_registered"] * 2
        + ["account_opened"] * 3  # two users and the system account's shard
        + ["transaction_created"] * 4  # two welcome credits, the transfer, the failed one
        + [second_issue, "account_debited", "account_credited"]  # the system's second issue, Asha's debit, Ravi's credit
        + ["aadhaar_revealed", "refresh_family_revoked"]
    )
    assert all(item["verified"].get("BOOL", True) for item in items if "verified" in item)
    transfer_records = [item for item in items if item["details"]["M"].get("reference_id", {}).get("S") == activity["reference"]]
    assert kinds(transfer_records) == ["account_credited", "account_debited", "transaction_created"]


def test_the_same_batch_delivered_twice_writes_nothing_new(
    audit: Invoke, activity: dict[str, str], aws_stack: dict[str, str]
) -> None:
    records = main_stream(aws_stack)
    audit({"Records": records})
    first = audit_items(aws_stack)
    result = audit({"Records": copy.deepcopy(records)})
    assert result == {"batchItemFailures": []}
    assert audit_items(aws_stack) == first


def test_a_poison_record_fails_alone_and_the_rest_are_written(
    audit: Invoke, activity: dict[str, str], aws_stack: dict[str, str]
) -> None:
    # Given a batch where one account change lost its balance attribute
    records = main_stream(aws_stack)
    poison = next(
        record for record in records if record["eventName"] == "MODIFY" and "balance" in record["dynamodb"].get("NewImage", {})
    )
    del poison["dynamodb"]["NewImage"]["balance"]
    # When it is delivered
    result = audit({"Records": records})
    # Then exactly that record is reported, and every other auditable change is recorded
    assert result == {"batchItemFailures": [{"itemIdentifier": poison["dynamodb"]["SequenceNumber"]}]}
    written = {item["event_id"]["S"] for item in audit_items(aws_stack)}
    assert poison["eventID"] not in written
    assert len(written) == 13  # the 14 auditable changes but the poisoned one


def test_a_balance_change_that_does_not_match_its_transaction_is_flagged(
    audit: Invoke,
    activity: dict[str, str],
    aws_stack: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given someone edits a balance directly in the table
    boto3.client("dynamodb").update_item(
        TableName=aws_stack["MAIN_TABLE_NAME"],
        Key={"PK": {"S": f"USER#{activity['ravi']}"}, "SK": {"S": "ACCOUNT"}},
        UpdateExpression="SET balance = balance + :x",
        ExpressionAttributeValues={":x": {"N": "100000"}},
    )
    # When the stream reaches the consumer
    audit({"Records": main_stream(aws_stack)})
    # Then that change is recorded as unverified, logged as an error and counted
    flagged = [item for item in audit_items(aws_stack) if item.get("verified", {}).get("BOOL") is False]
    assert len(flagged) == 1
    assert flagged[0]["details"]["M"]["user_id"]["S"] == activity["ravi"]
    assert "balance change does not match its transaction" in caplog.text
    assert '"AuditMismatch":[1.0]' in capsys.readouterr().out

    # And when the same batch is delivered again, nothing is written, counted or reported twice
    caplog.clear()
    audit({"Records": main_stream(aws_stack)})
    again = capsys.readouterr().out
    assert "AuditMismatch" not in again
    assert '"AuditRecorded":[0.0]' in again
    assert "balance change does not match its transaction" not in caplog.text


def test_audit_records_carry_no_secrets(audit: Invoke, activity: dict[str, str], aws_stack: dict[str, str]) -> None:
    audit({"Records": main_stream(aws_stack)})
    dump = repr(audit_items(aws_stack))
    for forbidden in ("password", "argon2", "wrapped_key", "ciphertext", 'refresh"', "aadhaar_last4"):
        assert forbidden not in dump


def test_records_in_any_order_verify_the_same(audit: Invoke, activity: dict[str, str], aws_stack: dict[str, str]) -> None:
    records = list(reversed(main_stream(aws_stack)))
    assert audit({"Records": records}) == {"batchItemFailures": []}
    assert all(item.get("verified", {}).get("BOOL", True) for item in audit_items(aws_stack))


def test_handler_context_is_the_lambda_one() -> None:
    assert LambdaContextStub().get_remaining_time_in_millis() > 0


def test_the_stream_event_in_events_becomes_verified_audit_records(
    audit: Invoke, identity: Invoke, wallet: Invoke, aws_stack: dict[str, str]
) -> None:
    # Given the example batch of events/stream-transfer.json, filled for a real transfer
    sender = body(identity(http_event("POST", "/api/users/register/", body=registration("s@example.com", full_name="S"))))
    receiver = body(identity(http_event("POST", "/api/users/register/", body=registration("r@example.com", full_name="R"))))
    receipt = body(
        wallet(
            http_event(
                "POST",
                "/api/wallet/transfer/",
                body={"receiver_email": "r@example.com", "amount": "1.00"},
                headers={"idempotency-key": "events-stream-0001"},
                user_id=sender["id"],
            )
        )
    )
    live = LiveData(
        sender_id=sender["id"],
        receiver_id=receiver["id"],
        access_token="",
        refresh_token="",
        reference_id=receipt["reference_id"],
        reference_created_at=receipt["created_at"],
        welcome_reference_id="welcome",
        balance_etag="",
        stream_arn="arn:aws:dynamodb:ap-south-1:123456789012:table/t/stream/x",
    )
    event = fill(json.loads((ROOT / "events" / "stream-transfer.json").read_text()), live)
    txn_event, debit_event, credit_event, ledger_event = (record["eventID"] for record in event["Records"])
    # When the audit function gets it
    assert audit(event) == {"batchItemFailures": []}
    # Then the transaction and both balance changes are recorded, verified, under the batch's event ids
    recorded = {item["event_id"]["S"]: item for item in audit_items(aws_stack)}
    assert recorded[txn_event]["kind"]["S"] == "transaction_created"
    assert recorded[debit_event]["kind"]["S"] == "account_debited"
    assert recorded[credit_event]["kind"]["S"] == "account_credited"
    assert ledger_event not in recorded  # ledger entries are not audit events
    assert recorded[debit_event]["verified"]["BOOL"] is True
    assert recorded[credit_event]["verified"]["BOOL"] is True
