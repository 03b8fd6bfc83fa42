"""Wallet: exactly-once transfers, failures that move nothing, balance, history, detail (moto)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.handlers.conftest import Invoke, body, register_people, scan_all, table_snapshot
from tests.support.data import registration
from tests.support.events import http_event
from vaultpay.core import aws
from vaultpay.core.records import PartyRef, TransactionRecord
from vaultpay.wallet.dynamo import DynamoWalletRepository
from vaultpay.wallet.logic import sending_day


@pytest.fixture
def people(identity: Invoke) -> dict[str, str]:
    """Two registered users (Rs 10,000.00 each): name -> user id."""
    return register_people(identity, "asha", "ravi")


def transfer(wallet: Invoke, sender: str, payload: dict[str, Any], key: str | None = "k-" + "0" * 12) -> dict[str, Any]:
    headers = {"idempotency-key": key} if key is not None else {}
    return wallet(http_event("POST", "/api/wallet/transfer/", body=payload, headers=headers, user_id=sender))


def spend_one_rupee(wallet: Invoke, people: dict[str, str]) -> None:
    """Given Asha has sent Ravi Rs 1.00: Rs 9,999.00 left, so Rs 10,000.00 (no step-up needed) is too much."""
    sent = transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "1.00"}, key="one-rupee-0001")
    assert sent["statusCode"] == 201


def balance(wallet: Invoke, user: str) -> str:
    return str(body(wallet(http_event("GET", "/api/wallet/balance/", user_id=user)))["balance"])


class TestTransfer:
    def test_a_transfer_moves_money_and_returns_the_new_balance(self, wallet: Invoke, people: dict[str, str]) -> None:
        # When Asha sends Rs 250 to Ravi
        response = transfer(wallet, people["asha"], {"receiver_email": "RAVI@example.com", "amount": "250.00", "note": "chai"})
        # Then it is created, with her new balance, and both balances moved
        assert response["statusCode"] == 201, response
        receipt = body(response)
        assert receipt["status"] == "SUCCESS"
        assert receipt["amount"] == "250.00"
        assert receipt["balance"] == "9750.00"
        assert receipt["receiver"] == {"email": "ravi@example.com", "full_name": "Ravi"}
        assert response["headers"]["Location"] == f"/api/wallet/transactions/{receipt['reference_id']}/"
        assert balance(wallet, people["asha"]) == "9750.00"
        assert balance(wallet, people["ravi"]) == "10250.00"

    def test_a_retry_with_the_same_key_replays_and_moves_nothing(self, wallet: Invoke, people: dict[str, str]) -> None:
        payload = {"receiver_email": "ravi@example.com", "amount": "100"}
        first = transfer(wallet, people["asha"], payload, key="retry-key-0001")
        again = transfer(wallet, people["asha"], {**payload, "amount": "100.00"}, key="retry-key-0001")
        assert again["statusCode"] == 201
        assert again["headers"]["Idempotent-Replayed"] == "true"
        assert body(again)["reference_id"] == body(first)["reference_id"]
        assert "Idempotent-Replayed" not in first["headers"]
        assert balance(wallet, people["ravi"]) == "10100.00"

    def test_the_same_key_with_another_body_is_422(self, wallet: Invoke, people: dict[str, str]) -> None:
        transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "100"}, key="reused-key-001")
        response = transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "200"}, key="reused-key-001")
        assert response["statusCode"] == 422
        assert body(response)["type"].endswith("idempotency-key-reused")
        assert balance(wallet, people["ravi"]) == "10100.00"

    def test_the_same_key_from_two_users_are_two_transfers(self, wallet: Invoke, people: dict[str, str]) -> None:
        a = transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "1"}, key="shared-key-0001")
        b = transfer(wallet, people["ravi"], {"receiver_email": "asha@example.com", "amount": "1"}, key="shared-key-0001")
        assert body(a)["reference_id"] != body(b)["reference_id"]

    @pytest.mark.parametrize(
        ("key", "problem"),
        [
            (None, "idempotency-key-required"),
            ("", "idempotency-key-malformed"),
            ("short", "idempotency-key-malformed"),
            ("has spaces in it", "idempotency-key-malformed"),
            ("x" * 129, "idempotency-key-malformed"),
            ("bad/slash-key", "idempotency-key-malformed"),
        ],
    )
    def test_a_missing_or_malformed_key_is_400_and_moves_nothing(
        self, wallet: Invoke, people: dict[str, str], dynamodb: Any, aws_stack: dict[str, str], key: str | None, problem: str
    ) -> None:
        before = table_snapshot(dynamodb, aws_stack)
        response = transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "1"}, key=key)
        assert response["statusCode"] == 400
        assert body(response)["type"].endswith(problem)
        assert table_snapshot(dynamodb, aws_stack) == before

    def test_a_missing_key_with_an_invalid_body_is_a_validation_error_naming_both(
        self, wallet: Invoke, people: dict[str, str]
    ) -> None:
        response = transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "0"}, key=None)
        assert response["statusCode"] == 422
        assert {tuple(issue["location"]) for issue in body(response)["errors"]} == {
            ("header", "idempotency-key"),
            ("body", "amount"),
        }

    def test_insufficient_funds_is_422_records_a_failed_transaction_and_moves_nothing(
        self, wallet: Invoke, people: dict[str, str]
    ) -> None:
        # When Asha, who spent Rs 1 already, sends Rs 10,000 (the step-up threshold: no step-up needed)
        spend_one_rupee(wallet, people)
        response = transfer(
            wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "10000.00"}, key="too-much-0001"
        )
        # Then the problem is insufficient-funds, balances are untouched
        assert response["statusCode"] == 422
        problem = body(response)
        assert problem["type"].endswith("insufficient-funds")
        assert balance(wallet, people["asha"]) == "9999.00"
        assert balance(wallet, people["ravi"]) == "10001.00"
        # And a FAILED transaction is in her history, not in Ravi's
        history = body(wallet(http_event("GET", "/api/wallet/history/", user_id=people["asha"])))["results"]
        assert history[0]["status"] == "FAILED"
        assert history[0]["reference_id"] == problem["reference_id"]
        ravi_history = body(wallet(http_event("GET", "/api/wallet/history/", user_id=people["ravi"])))["results"]
        assert all(entry["status"] == "SUCCESS" for entry in ravi_history)

    def test_a_refused_transfer_is_counted_by_its_reason(
        self, wallet: Invoke, people: dict[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        # When Asha sends more than she has, then sends to herself
        spend_one_rupee(wallet, people)
        transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "10000.00"}, key="too-much-0002")
        transfer(wallet, people["asha"], {"receiver_email": "asha@example.com", "amount": "1.00"}, key="to-self-00001")
        # Then each refusal is one RequestRefused metric (EMF on stdout) with its reason as a dimension
        refusals = [
            (metric["problem"], metric["RequestRefused"])
            for line in capsys.readouterr().out.splitlines()
            if line.startswith("{") and "RequestRefused" in (metric := json.loads(line))
        ]
        assert refusals == [("insufficient-funds", [1.0]), ("self-transfer", [1.0])]
        # And retrying the same key gives the same answer
        again = transfer(
            wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "10000.00"}, key="too-much-0002"
        )
        assert again["statusCode"] == 422

    @pytest.mark.parametrize(
        ("payload", "status"),
        [
            ({"receiver_email": "asha@example.com", "amount": "1"}, 422),  # self
            ({"receiver_email": "nobody@example.com", "amount": "1"}, 404),
            ({"receiver_email": "ravi@example.com", "amount": "0"}, 422),
            ({"receiver_email": "ravi@example.com", "amount": "-5"}, 422),
            ({"receiver_email": "ravi@example.com", "amount": "100000.01"}, 422),  # over the limit
            ({"receiver_email": "ravi@example.com", "amount": "1.001"}, 422),
            ({"receiver_email": "ravi@example.com", "amount": "NaN"}, 422),
            ({"receiver_email": "ravi@example.com", "amount": "Infinity"}, 422),
            ({"receiver_email": "ravi@example.com", "amount": "1e3"}, 422),
            ({"receiver_email": "ravi@example.com", "amount": True}, 422),
            ({"receiver_email": "ravi@example.com", "amount": None}, 422),
            ({"receiver_email": "ravi@example.com", "amount": "1", "note": "x" * 141}, 422),
            ({"receiver_email": "ravi@example.com", "amount": "1", "sender_id": "someone"}, 422),
            ({"receiver_email": "not an email", "amount": "1"}, 422),
        ],
    )
    def test_bad_transfers_are_4xx_problems_that_write_nothing(
        self,
        wallet: Invoke,
        people: dict[str, str],
        dynamodb: Any,
        aws_stack: dict[str, str],
        payload: dict[str, Any],
        status: int,
    ) -> None:
        before = table_snapshot(dynamodb, aws_stack)
        response = transfer(wallet, people["asha"], payload, key=f"bad-{uuid.uuid4()}")
        assert response["statusCode"] == status
        assert response["headers"]["Content-Type"] == "application/problem+json"
        after = table_snapshot(dynamodb, aws_stack)
        assert after[aws_stack["MAIN_TABLE_NAME"]] == before[aws_stack["MAIN_TABLE_NAME"]]

    @pytest.mark.parametrize("amount", ["1e3", "1E3", "25e-1", "2.5e1"])
    def test_an_amount_written_with_an_exponent_is_refused(
        self, wallet: Invoke, people: dict[str, str], dynamodb: Any, aws_stack: dict[str, str], amount: str
    ) -> None:
        # Given a JSON number in exponent notation (exact, but not how anyone writes money)
        before = table_snapshot(dynamodb, aws_stack)
        raw = f'{{"receiver_email": "ravi@example.com", "amount": {amount}}}'
        response = wallet(
            http_event(
                "POST",
                "/api/wallet/transfer/",
                raw_body=raw,
                headers={"idempotency-key": f"exp-{uuid.uuid4()}"},
                user_id=people["asha"],
            )
        )
        # Then it is a 422 on the amount, and nothing is written
        assert response["statusCode"] == 422
        assert body(response)["errors"][0]["location"] == ["body", "amount"]
        assert table_snapshot(dynamodb, aws_stack)[aws_stack["MAIN_TABLE_NAME"]] == before[aws_stack["MAIN_TABLE_NAME"]]

    def test_an_amount_as_a_plain_json_number_is_accepted(self, wallet: Invoke, people: dict[str, str]) -> None:
        raw = '{"receiver_email": "ravi@example.com", "amount": 12.5}'
        response = wallet(
            http_event(
                "POST",
                "/api/wallet/transfer/",
                raw_body=raw,
                headers={"idempotency-key": "plain-number-01"},
                user_id=people["asha"],
            )
        )
        assert response["statusCode"] == 201
        assert body(response)["amount"] == "12.50"

    def test_a_json_number_amount_is_accepted_exactly(self, wallet: Invoke, people: dict[str, str]) -> None:
        response = wallet(
            http_event(
                "POST",
                "/api/wallet/transfer/",
                raw_body='{"receiver_email": "ravi@example.com", "amount": 0.1}',
                headers={"idempotency-key": "number-amount-1"},
                user_id=people["asha"],
            )
        )
        assert response["statusCode"] == 201
        assert body(response)["amount"] == "0.10"


class TestBalance:
    def test_balance_has_an_etag_and_answers_304_when_unchanged(self, wallet: Invoke, people: dict[str, str]) -> None:
        first = wallet(http_event("GET", "/api/wallet/balance/", user_id=people["asha"]))
        assert body(first) == {"balance": "10000.00", "currency": "INR", "version": 1}
        etag = first["headers"]["ETag"]
        unchanged = wallet(http_event("GET", "/api/wallet/balance/", headers={"if-none-match": etag}, user_id=people["asha"]))
        assert unchanged["statusCode"] == 304
        transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "1"})
        changed = wallet(http_event("GET", "/api/wallet/balance/", headers={"if-none-match": etag}, user_id=people["asha"]))
        assert changed["statusCode"] == 200
        assert changed["headers"]["ETag"] != etag


class TestHistory:
    def test_history_pages_newest_first_with_a_cursor(self, wallet: Invoke, people: dict[str, str]) -> None:
        for index in range(5):
            transfer(
                wallet,
                people["asha"],
                {"receiver_email": "ravi@example.com", "amount": f"{index + 1}"},
                key=f"history-key-{index:04d}",
            )
        seen: list[str] = []
        cursor = None
        while True:
            query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            page = body(wallet(http_event("GET", "/api/wallet/history/", query=query, user_id=people["asha"])))
            seen.extend(entry["amount"] for entry in page["results"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        # 5 sent + the welcome credit, newest first
        assert seen == ["5.00", "4.00", "3.00", "2.00", "1.00", "10000.00"]

    def test_direction_filter(self, wallet: Invoke, people: dict[str, str]) -> None:
        transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "7"})
        sent = body(wallet(http_event("GET", "/api/wallet/history/", query={"direction": "sent"}, user_id=people["asha"])))
        received = body(
            wallet(http_event("GET", "/api/wallet/history/", query={"direction": "received"}, user_id=people["ravi"]))
        )
        assert [entry["amount"] for entry in sent["results"]] == ["7.00"]
        assert [entry["counterparty"]["email"] for entry in received["results"]] == [
            "asha@example.com",
            "system@vaultpay.internal",
        ]

    def test_a_direction_filter_pages_with_its_cursor(self, wallet: Invoke, people: dict[str, str]) -> None:
        # Given Asha sent five transfers and received one, among other entries
        for index in range(5):
            transfer(
                wallet,
                people["asha"],
                {"receiver_email": "ravi@example.com", "amount": f"{index + 1}"},
                key=f"sent-page-{index:04d}",
            )
        transfer(wallet, people["ravi"], {"receiver_email": "asha@example.com", "amount": "9"}, key="received-page-0001")
        # When she pages through what she sent, two at a time
        seen: list[str] = []
        cursor = None
        while True:
            query = {"limit": "2", "direction": "sent", **({"cursor": cursor} if cursor else {})}
            page = body(wallet(http_event("GET", "/api/wallet/history/", query=query, user_id=people["asha"])))
            assert all(entry["direction"] == "sent" for entry in page["results"])
            seen.extend(entry["amount"] for entry in page["results"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        # Then every sent transfer shows once, newest first, and nothing else
        assert seen == ["5.00", "4.00", "3.00", "2.00", "1.00"]

    def test_a_cursor_cannot_read_another_users_history(self, wallet: Invoke, people: dict[str, str]) -> None:
        for index in range(3):
            transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "1"}, key=f"bola-key-{index:05d}")
        asha_page = body(wallet(http_event("GET", "/api/wallet/history/", query={"limit": "1"}, user_id=people["asha"])))
        # When Ravi replays Asha's cursor, he only ever sees his own partition
        ravi_page = body(
            wallet(
                http_event(
                    "GET",
                    "/api/wallet/history/",
                    query={"limit": "10", "cursor": asha_page["next_cursor"]},
                    user_id=people["ravi"],
                )
            )
        )
        assert all(
            entry["direction"] == "received" or entry["counterparty"]["email"] != "ravi@example.com"
            for entry in ravi_page["results"]
        )
        assert {entry["reference_id"] for entry in ravi_page["results"]} <= {
            entry["reference_id"]
            for entry in body(wallet(http_event("GET", "/api/wallet/history/", query={"limit": "100"}, user_id=people["ravi"])))[
                "results"
            ]
        }

    @pytest.mark.parametrize(
        "query", [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"direction": "up"}, {"cursor": "garbage!"}]
    )
    def test_bad_queries_are_4xx(self, wallet: Invoke, people: dict[str, str], query: dict[str, str]) -> None:
        response = wallet(http_event("GET", "/api/wallet/history/", query=query, user_id=people["asha"]))
        assert response["statusCode"] in (400, 422)
        assert response["headers"]["Content-Type"] == "application/problem+json"

    def test_a_cursor_for_one_direction_is_refused_for_another(self, wallet: Invoke, people: dict[str, str]) -> None:
        for index in range(2):
            transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "1"}, key=f"dir-key-{index:06d}")
        page = body(wallet(http_event("GET", "/api/wallet/history/", query={"limit": "1"}, user_id=people["asha"])))
        response = wallet(
            http_event(
                "GET", "/api/wallet/history/", query={"cursor": page["next_cursor"], "direction": "sent"}, user_id=people["asha"]
            )
        )
        assert response["statusCode"] == 400


class TestTransactionDetail:
    def test_sender_and_receiver_see_it_and_nobody_else(self, wallet: Invoke, identity: Invoke, people: dict[str, str]) -> None:
        mallory = body(identity(http_event("POST", "/api/users/register/", body=registration("mallory@example.com"))))["id"]
        reference = body(transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "3"}))["reference_id"]
        path = f"/api/wallet/transactions/{reference}/"

        def detail(user: str) -> dict[str, Any]:
            return wallet(http_event("GET", path, path_parameters={"reference_id": reference}, user_id=user))

        assert body(detail(people["asha"]))["direction"] == "sent"
        assert body(detail(people["ravi"]))["direction"] == "received"
        assert detail(mallory)["statusCode"] == 404
        assert detail(mallory)["body"] == wallet(
            http_event("GET", "/api/wallet/transactions/00000000-0000-0000-0000-000000000000/", user_id=mallory)
        )["body"].replace("00000000-0000-0000-0000-000000000000", reference)


def test_money_is_conserved_and_never_float(
    wallet: Invoke, people: dict[str, str], dynamodb: Any, aws_stack: dict[str, str]
) -> None:
    for index in range(4):
        transfer(
            wallet,
            people["asha" if index % 2 else "ravi"],
            {"receiver_email": f"{'ravi' if index % 2 else 'asha'}@example.com", "amount": "12.34"},
            key=f"conserve-{index:06d}",
        )
    accounts = [item for item in scan_all(dynamodb, aws_stack["MAIN_TABLE_NAME"]) if item["SK"]["S"] == "ACCOUNT"]
    assert sum(int(item["balance"]["N"]) for item in accounts) == 0  # the system account holds minus what was issued


def test_an_unknown_query_parameter_is_ignored_and_an_unknown_body_field_refused(wallet: Invoke, people: dict[str, str]) -> None:
    # Given two transfers in Asha's history
    for index in range(2):
        transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "1.00"}, key=f"query-{index:08d}")
    plain = body(wallet(http_event("GET", "/api/wallet/history/", user_id=people["asha"])))
    # When the history is asked for with a typo and a cache-buster in the query string
    response = wallet(http_event("GET", "/api/wallet/history/", query={"limt": "1", "_": "1732460000"}, user_id=people["asha"]))
    # Then they are ignored, as API Gateway ignores them: the same page as without them
    assert response["statusCode"] == 200
    assert body(response) == plain
    assert len(plain["results"]) >= 2
    # And a field the body does not take is still refused
    smuggled = transfer(
        wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "1.00", "sender_id": people["ravi"]}
    )
    assert smuggled["statusCode"] == 422
    assert [error["type"] for error in body(smuggled)["errors"]] == ["extra_forbidden"]


class TestRoundTrips:
    """A first transfer reads the sender's account and the payee's guard in one call; the container
    then remembers both, and the next transfer between them reads nothing before its transaction."""

    @staticmethod
    def count_calls() -> list[str]:
        calls: list[str] = []
        aws.dynamodb().meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
        return calls

    def test_a_first_transfer_makes_four_calls_and_one_to_a_payee_paid_recently_three(
        self, wallet: Invoke, people: dict[str, str]
    ) -> None:
        # Given a warm wallet container (it has answered a balance)
        balance(wallet, people["asha"])
        calls = self.count_calls()
        # When Asha pays Ravi for the first time from it
        first = transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "1.00"}, key="round-trip-0001")
        # Then four calls: the idempotency record, one read (her account and his address), the transaction, the outcome
        assert first["statusCode"] == 201
        assert calls == ["PutItem", "BatchGetItem", "TransactWriteItems", "UpdateItem"]
        # When she pays him again
        calls.clear()
        again = transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "2.00"}, key="round-trip-0002")
        # Then three calls, nothing read, and the receipt's balance is still exact
        assert calls == ["PutItem", "TransactWriteItems", "UpdateItem"]
        assert body(again)["balance"] == balance(wallet, people["asha"]) == "9997.00"

    def test_a_remembered_balance_gone_stale_is_corrected_by_the_debits_condition(
        self, wallet: Invoke, people: dict[str, str]
    ) -> None:
        # Given the container remembers Asha's balance from her transfer (Rs 9,999.00)
        transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "1.00"}, key="stale-000001")
        # And Ravi has paid her Rs 500.00 since (her balance moved without her)
        transfer(wallet, people["ravi"], {"receiver_email": "asha@example.com", "amount": "500.00"}, key="stale-000002")
        calls = self.count_calls()
        # When she pays him Rs 10.00
        sent = transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "10.00"}, key="stale-000003")
        # Then the first try is refused by the condition, which saw the real balance; the second commits
        assert sent["statusCode"] == 201
        assert calls == ["PutItem", "TransactWriteItems", "TransactWriteItems", "UpdateItem"]
        # And the receipt says the balance right after it, as the account does
        assert body(sent)["balance"] == balance(wallet, people["asha"]) == "10489.00"
        # And her next transfer reads her account rather than guess again (a read costs less than a refused transaction)
        calls.clear()
        transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "1.00"}, key="stale-000004")
        assert calls == ["PutItem", "GetItem", "TransactWriteItems", "UpdateItem"]

    def test_a_replay_after_a_lost_outcome_answers_the_original_balance(
        self, wallet: Invoke, people: dict[str, str], dynamodb: Any, aws_stack: dict[str, str]
    ) -> None:
        # Given a transfer whose idempotency record was lost (a crash between the commit and the record)
        payload = {"receiver_email": "ravi@example.com", "amount": "1.00"}
        original = body(transfer(wallet, people["asha"], payload, key="lost-record-01"))
        transfer(wallet, people["asha"], {"receiver_email": "ravi@example.com", "amount": "5.00"}, key="lost-record-02")
        for item in scan_all(dynamodb, aws_stack["IDEMPOTENCY_TABLE_NAME"]):
            dynamodb.delete_item(TableName=aws_stack["IDEMPOTENCY_TABLE_NAME"], Key={"id": item["id"]})
        # When it is retried
        retried = transfer(wallet, people["asha"], payload, key="lost-record-01")
        # Then the TXN guard answers with the original receipt, balance right after it included
        assert retried["statusCode"] == 201
        assert body(retried) == original
        assert original["balance"] == "9999.00"


class CancelsWithoutReasons:
    """A DynamoDB client whose transactions are cancelled with no CancellationReasons at all."""

    def transact_write_items(self, **_: Any) -> None:
        raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}}, "TransactWriteItems")


def test_a_cancellation_without_reasons_stands_as_it_is() -> None:
    # Given a cancelled transaction for which DynamoDB named no reasons
    repository = DynamoWalletRepository(CancelsWithoutReasons(), "main")
    txn = TransactionRecord(
        reference_id="r-1",
        kind="TRANSFER",
        status="SUCCESS",
        sender=PartyRef(user_id="a", email="a@example.com", full_name="A"),
        receiver=PartyRef(user_id="b", email="b@example.com", full_name="B"),
        amount=100,
        created_at=datetime.now(UTC),
    )
    # Then the outcome is not guessed (no domain error, no IndexError): the cancellation propagates
    with pytest.raises(ClientError) as raised:
        repository.commit_transfer(txn, sending_day(txn.created_at, 10_000_000), None, 1_000)
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    with pytest.raises(ClientError):
        repository.record_failed_transfer(txn)
