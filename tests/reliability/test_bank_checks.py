"""The bank workload's own checks, without a stack: they must catch what they claim to catch."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.reliability.bank import WELCOME_PAISE, BankConfig, BankWorkload, is_transient, unknown_account_violations
from tests.support.api import User

USERS = [User(id=f"u{index}", email=f"u{index}@example.com", password="-", aadhaar="-") for index in range(3)]


def client_error(code: str, reasons: list[str] | None = None, message: str = "") -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": message}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": reason} for reason in reasons]
    return ClientError(response, "TransactGetItems")  # type: ignore[arg-type]


def balances(*values: int) -> dict[str, Any]:
    return {"Responses": [{"Item": {"balance": {"N": str(value)}}} for value in values]}


class FakeDynamoDB:
    """Answers TransactGetItems from a script: an exception is raised, anything else returned."""

    def __init__(self, script: list[Any]) -> None:
        self.script: Iterator[Any] = iter(script)
        self.calls = 0

    def transact_get_items(self, **_: Any) -> Any:
        self.calls += 1
        answer = next(self.script)
        if isinstance(answer, BaseException):
            raise answer
        return answer


class FakeStack:
    def __init__(self, script: list[Any]) -> None:
        self.dynamodb = FakeDynamoDB(script)

    def client(self, _service: str) -> FakeDynamoDB:
        return self.dynamodb

    def resource(self, logical_id: str) -> str:
        return logical_id


def workload(script: list[Any]) -> tuple[BankWorkload, FakeStack]:
    stack = FakeStack(script)
    return BankWorkload(stack, BankConfig(check_interval_seconds=0.01)), stack  # type: ignore[arg-type]


CONSERVED = balances(WELCOME_PAISE, WELCOME_PAISE + 5, WELCOME_PAISE - 5)


class TestTransientErrors:
    @pytest.mark.parametrize(
        "error",
        [
            client_error("TransactionCanceledException", ["None", "TransactionConflict", "None"]),
            client_error("TransactionCanceledException", message="Transaction cancelled [None, TransactionConflict]"),
            client_error("ThrottlingException"),
            client_error("InternalServerError"),
            client_error("TransactionInProgressException"),
            EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ],
    )
    def test_races_throttling_and_outages_are_transient(self, error: Exception) -> None:
        assert is_transient(error)

    @pytest.mark.parametrize(
        "error",
        [
            client_error("TransactionCanceledException", ["ValidationError", "TransactionConflict"]),
            client_error("TransactionCanceledException", message="Transaction cancelled [None, None]"),
            client_error("ResourceNotFoundException"),
            client_error("ValidationException"),
            KeyError("Item"),
            RuntimeError("bug"),
        ],
    )
    def test_anything_else_is_not(self, error: Exception) -> None:
        assert not is_transient(error)


class TestTheSnapshot:
    def test_a_conflict_with_a_transfer_is_retried_then_checked(self) -> None:
        bank, stack = workload([client_error("TransactionCanceledException", ["TransactionConflict", "None", "None"]), CONSERVED])
        assert bank._snapshot(USERS)
        assert stack.dynamodb.calls == 2
        assert (bank.counters.values["snapshots"], bank.counters.values["snapshot_retries"]) == (1, 1)
        assert bank.violations == []

    def test_an_unexpected_error_is_a_failure_not_a_silent_stop(self) -> None:
        bank, _ = workload([client_error("ResourceNotFoundException")])
        assert not bank._snapshot(USERS)
        assert len(bank.violations) == 1
        assert "ResourceNotFoundException" in bank.violations[0]

    def test_a_missing_account_is_a_failure(self) -> None:
        bank, _ = workload([{"Responses": [{"Item": {"balance": {"N": "1"}}}, {}, {}]}])
        assert not bank._snapshot(USERS)
        assert "KeyError" in bank.violations[0]

    def test_a_snapshot_that_keeps_conflicting_is_skipped_and_counted(self) -> None:
        bank, stack = workload([client_error("TransactionCanceledException", ["TransactionConflict"])] * 3)
        assert not bank._snapshot(USERS, attempts=3)
        assert stack.dynamodb.calls == 3
        assert bank.counters.values["snapshots_skipped"] == 1
        assert bank.violations == []

    @pytest.mark.parametrize(
        ("answer", "violation"),
        [
            (balances(WELCOME_PAISE, WELCOME_PAISE, WELCOME_PAISE + 1), "sum to"),
            (balances(2 * WELCOME_PAISE + 1, WELCOME_PAISE, -1), "negative"),
        ],
    )
    def test_money_made_or_a_negative_balance_is_a_violation(self, answer: dict[str, Any], violation: str) -> None:
        bank, _ = workload([answer])
        assert bank._snapshot(USERS)
        assert violation in bank.violations[0]


def test_the_checker_keeps_checking_after_a_failure_and_records_it() -> None:
    # Given a checker whose reads fail once with an unexpected error, once with a KeyError, then succeed
    bank, stack = workload([client_error("AccessDeniedException"), {"Responses": [{}]}] + [CONSERVED] * 1000)
    stop = threading.Event()
    checker = threading.Thread(target=bank._checker, args=(USERS, stop))
    # When it runs for a while
    checker.start()
    stop.wait(0.3)
    stop.set()
    checker.join()
    # Then both failures are recorded, and it went on checking after them
    assert [violation.split(":")[0] for violation in bank.violations] == [
        "a balance snapshot failed",
        "a balance snapshot is unreadable (an account is missing?)",
    ]
    assert bank.counters.values["snapshots"] > 0
    assert stack.dynamodb.calls > 2


class TestNoUnknownAccount:
    KNOWN: ClassVar[set[str]] = {"a", "b"}
    BEFORE: ClassVar[dict[str, dict[str, Any]]] = {
        "a": {"balance": 10, "version": 1},
        "b": {"balance": 10, "version": 1},
        "SYSTEM": {"balance": -20, "version": 2},
        "other": {"balance": 10, "version": 1},
    }

    @staticmethod
    def txn(sender: str, receiver: str) -> dict[str, Any]:
        return {"reference_id": f"{sender}->{receiver}", "sender": {"user_id": sender}, "receiver": {"user_id": receiver}}

    def test_transfers_among_the_bank_accounts_are_fine(self) -> None:
        after = {**self.BEFORE, "a": {"balance": 5, "version": 2}, "b": {"balance": 15, "version": 2}}
        assert unknown_account_violations(self.BEFORE, after, self.KNOWN, [self.txn("a", "b")]) == []

    def test_an_account_outside_the_bank_that_changed_is_reported(self) -> None:
        after = {**self.BEFORE, "other": {"balance": 11, "version": 2}, "SYSTEM": {"balance": -21, "version": 3}}
        assert unknown_account_violations(self.BEFORE, after, self.KNOWN, []) == [
            "account SYSTEM, not one of the bank's, changed during the run",
            "account other, not one of the bank's, changed during the run",
        ]

    def test_an_account_that_appeared_or_vanished_is_reported(self) -> None:
        after = {name: item for name, item in self.BEFORE.items() if name != "other"} | {"ghost": {"balance": 1, "version": 1}}
        assert unknown_account_violations(self.BEFORE, after, self.KNOWN, []) == [
            "account ghost appeared during the run",
            "account other vanished during the run",
        ]

    def test_a_transaction_with_an_unknown_party_is_reported(self) -> None:
        violations = unknown_account_violations(self.BEFORE, self.BEFORE, self.KNOWN, [self.txn("a", "ghost")])
        assert violations == ["transaction a->ghost has an unknown receiver: ghost"]
