"""Monthly statements through the wallet handler against moto: CSV by default, JSON on Accept,
one Query per page of the ledger, and bad months refused as problem+json with nothing written."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.handlers.conftest import Invoke, body, register_people, table_snapshot
from tests.support.events import http_event
from vaultpay.core import aws
from vaultpay.identity import composition as identity_composition
from vaultpay.wallet import composition as wallet_composition
from vaultpay.wallet import logic as wallet_logic


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(aws_stack: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Registration and the wallet on a clock of the test's: 10 November 2026, 15:30 IST."""
    clock = Clock(datetime(2026, 11, 10, 10, 0, tzinfo=UTC))
    monkeypatch.setattr(identity_composition, "utc_now", clock)
    monkeypatch.setattr(wallet_composition, "utc_now", clock)
    return clock


@pytest.fixture
def people(identity: Invoke, clock: Clock) -> dict[str, str]:
    """Asha and Ravi, registered on 10 November with the welcome credit (Rs 10,000.00 each)."""
    return register_people(identity, "asha", "ravi")


@pytest.fixture
def queries(aws_stack: dict[str, str]) -> Iterator[list[str]]:
    """The DynamoDB operations the functions make, in order."""
    made: list[str] = []

    def count(**kwargs: Any) -> None:
        made.append(kwargs["model"].name)

    client = aws.dynamodb()
    client.meta.events.register("before-call.dynamodb.*", count)
    yield made
    client.meta.events.unregister("before-call.dynamodb.*", count)


def pay(wallet: Invoke, sender: str, receiver: str, amount: str, key: str, note: str | None = None) -> None:
    payload = {"receiver_email": receiver, "amount": amount} | ({"note": note} if note else {})
    response = wallet(http_event("POST", "/api/wallet/transfer/", body=payload, headers={"idempotency-key": key}, user_id=sender))
    assert response["statusCode"] == 201, response


def get_statement(wallet: Invoke, user: str, month: str, accept: str | None = None, path: str | None = None) -> dict[str, Any]:
    headers = {"accept": accept} if accept else {}
    return wallet(
        http_event(
            "GET",
            path or f"/api/wallet/statements/{month}/",
            headers=headers,
            path_parameters={"month": month},
            user_id=user,
            route_key="GET /api/wallet/statements/{month}/",
        )
    )


@pytest.fixture
def november(wallet: Invoke, people: dict[str, str], clock: Clock) -> dict[str, str]:
    """Asha's November: Rs 250.00 to Ravi with a note, Rs 40.00 back; then December begins."""
    clock.now += timedelta(days=2)
    pay(wallet, people["asha"], "ravi@example.com", "250.00", "statement-0001", note="=rent")
    clock.now += timedelta(days=3)
    pay(wallet, people["ravi"], "asha@example.com", "40.00", "statement-0002")
    clock.now = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    pay(wallet, people["asha"], "ravi@example.com", "1.00", "statement-0003")
    return people


def test_a_statement_is_csv_by_default_with_a_header_and_the_balances(wallet: Invoke, november: dict[str, str]) -> None:
    # When Asha downloads November's statement without saying what she accepts
    response = get_statement(wallet, november["asha"], "2026-11")
    # Then it is a CSV attachment, one header row, then opening balance, movements, closing balance
    assert response["statusCode"] == 200, response
    headers = response["headers"]
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == 'attachment; filename="vaultpay-statement-2026-11.csv"'
    assert headers["Cache-Control"] == "no-store"
    assert headers["Vary"] == "Accept"
    rows = list(csv.DictReader(io.StringIO(response["body"])))
    assert [(r["kind"], r["debit"], r["credit"], r["balance"]) for r in rows] == [
        ("OPENING_BALANCE", "", "", "0.00"),
        ("WELCOME_CREDIT", "", "10000.00", "10000.00"),
        ("TRANSFER", "250.00", "", "9750.00"),
        ("TRANSFER", "", "40.00", "9790.00"),
        ("CLOSING_BALANCE", "", "", "9790.00"),
    ]
    assert rows[2]["counterparty"] == "Ravi"
    assert rows[2]["note"] == "'=rent"


def test_accept_json_gets_the_statement_as_json(wallet: Invoke, november: dict[str, str]) -> None:
    response = get_statement(wallet, november["asha"], "2026-11", accept="application/json")
    assert response["statusCode"] == 200, response
    assert response["headers"]["Content-Type"] == "application/json"
    statement = body(response)
    assert statement["month"] == "2026-11"
    assert statement["closed"] is True
    assert (statement["opening_balance"], statement["closing_balance"]) == ("0.00", "9790.00")
    assert (statement["total_credits"], statement["total_debits"]) == ("10040.00", "250.00")
    assert statement["period_start"] == "2026-10-31T18:30:00.000000Z"
    assert [line["balance_after"] for line in statement["lines"]] == ["10000.00", "9750.00", "9790.00"]
    assert statement["account"] == {"email": "asha@example.com", "full_name": "Asha"}


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("text/csv", "text/csv; charset=utf-8"),
        ("*/*", "text/csv; charset=utf-8"),
        ("application/json, */*;q=0.1", "application/json"),
        ("text/csv;q=0.5, application/json", "application/json"),
        ("text/html", "text/csv; charset=utf-8"),
    ],
)
def test_the_accept_header_chooses_csv_or_json(wallet: Invoke, november: dict[str, str], accept: str, media_type: str) -> None:
    response = get_statement(wallet, november["asha"], "2026-11", accept=accept)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == media_type


def test_the_path_without_its_trailing_slash_is_the_same_statement(wallet: Invoke, november: dict[str, str]) -> None:
    slash = get_statement(wallet, november["asha"], "2026-11")
    bare = get_statement(wallet, november["asha"], "2026-11", path="/api/wallet/statements/2026-11")
    assert bare["statusCode"] == 200
    assert bare["body"] == slash["body"]


def test_a_statement_reads_the_account_twice_and_the_ledger_one_query_a_page(
    wallet: Invoke, november: dict[str, str], queries: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given pages of two ledger entries: November has three (two pages), December one (one page)
    monkeypatch.setattr(wallet_logic, "STATEMENT_PAGE", 2)
    queries.clear()
    # When November is stated
    response = get_statement(wallet, november["asha"], "2026-11", accept="application/json")
    # Then: the account, two Queries of November, one of what followed, the account again
    assert response["statusCode"] == 200
    assert queries == ["GetItem", "Query", "Query", "Query", "GetItem"]
    assert len(body(response)["lines"]) == 3


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "26-11", "2026-1", "november", "1999-12", "2026-11-01"])
def test_a_bad_month_is_a_422_problem_and_writes_nothing(
    wallet: Invoke, november: dict[str, str], dynamodb: Any, aws_stack: dict[str, str], month: str
) -> None:
    before = table_snapshot(dynamodb, aws_stack)
    response = get_statement(wallet, november["asha"], month)
    assert response["statusCode"] == 422
    assert response["headers"]["Content-Type"] == "application/problem+json"
    problem = body(response)
    assert problem["type"].endswith("/validation-error")
    assert problem["errors"][0]["location"] == ["path", "month"]
    assert table_snapshot(dynamodb, aws_stack) == before


def test_a_month_not_yet_begun_is_a_404_problem(wallet: Invoke, november: dict[str, str]) -> None:
    response = get_statement(wallet, november["asha"], "2027-01")
    assert response["statusCode"] == 404
    assert body(response)["type"].endswith("/statement-not-available")


def test_the_current_month_is_the_month_so_far(wallet: Invoke, november: dict[str, str], clock: Clock) -> None:
    statement = body(get_statement(wallet, november["asha"], "2026-12", accept="application/json"))
    assert statement["closed"] is False
    assert (statement["opening_balance"], statement["closing_balance"]) == ("9790.00", "9789.00")
    balance = body(wallet(http_event("GET", "/api/wallet/balance/", user_id=november["asha"])))["balance"]
    assert statement["closing_balance"] == balance
