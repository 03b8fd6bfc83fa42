"""Monthly statements on the local stack, across a real month end (the local clock moved to it):
the closing balance is the balance at the month's end, and the lines replay the opening balance
to it, transfers and loan movements alike."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.support.api import Api, User
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.stack, pytest.mark.own_stacks]

IST = timezone(timedelta(hours=5, minutes=30))


def paise(amount: str) -> int:
    rupees, _, fraction = amount.partition(".")
    return int(rupees) * 100 + int(fraction or 0)


def stack_now(api: Api) -> datetime:
    response = api.get("/_local/clock")
    assert response.status_code == 200, response.text
    return datetime.fromisoformat(response.json()["now"])


def advance(api: Api, seconds: float) -> datetime:
    response = api.post("/_local/clock", {"advance_seconds": seconds})
    assert response.status_code == 200, response.text
    return datetime.fromisoformat(response.json()["now"])


def next_month_start(moment: datetime) -> datetime:
    local = moment.astimezone(IST)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=IST).astimezone(UTC)


@pytest.fixture(scope="module")
def api(own_stack: RunningStack) -> Iterator[Api]:
    # A stack of this module's own: it moves the clock, which would age every other test's data.
    client = Api(own_stack.url)
    yield client
    client.close()


def replay(statement: dict[str, Any]) -> int:
    running = paise(statement["opening_balance"])
    for line in statement["lines"]:
        running += paise(line["amount"]) if line["direction"] == "received" else -paise(line["amount"])
        assert paise(line["balance_after"]) == running, line
    return running


def test_a_statement_closes_at_the_balance_at_month_end_and_its_lines_replay_the_opening_balance(api: Api) -> None:
    # Given Asha and Ravi, who pay each other this month; Ravi asks for a loan, Asha commits to it,
    # and Ravi withdraws the request, which gives her commitment back (nothing is left for the
    # loan sweeper, which runs when the clock jumps, to move)
    asha, ravi = api.new_user(full_name="Asha Menon"), api.new_user(full_name="Ravi Kumar")
    assert api.transfer(asha, ravi, "1250.00", note="Rent share").status_code == 201
    assert api.transfer(ravi, asha, "99.99").status_code == 201
    loan = api.post(
        "/api/loans/",
        {"amount": "5000.00", "tenure_months": 6, "annual_rate": "14.00", "purpose": "Stock for the shop"},
        user=ravi,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert loan.status_code == 201, loan.text
    loan_id = loan.json()["id"]
    committed = api.post(
        f"/api/loans/{loan_id}/commitments/", {"amount": "2000.00"}, user=asha, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert committed.status_code == 201, committed.text
    cancelled = api.post(f"/api/loans/{loan_id}/cancel/", user=ravi)
    assert cancelled.status_code == 200, cancelled.text
    # And, a minute before the month ends (IST), one more payment: then her balance is the month-end one
    now = stack_now(api)
    month = now.astimezone(IST).strftime("%Y-%m")
    end = next_month_start(now)
    advance(api, (end - now).total_seconds() - 60)
    api.login(asha)
    api.login(ravi)
    assert api.transfer(ravi, asha, "10.00", note="Last minute").status_code == 201
    at_month_end = api.balance_paise(asha)
    # And the next month moves her balance again
    advance(api, 120)
    api.login(asha)
    api.login(ravi)
    assert api.transfer(asha, ravi, "5.00", note="Next month").status_code == 201
    # When she downloads that month's statement, as JSON and as CSV
    response = api.get(f"/api/wallet/statements/{month}/", asha, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    statement = response.json()
    as_csv = api.get(f"/api/wallet/statements/{month}", asha)
    # Then it closes at her balance at the month's end, and its lines replay the opening balance to it
    assert statement["closed"] is True
    assert paise(statement["closing_balance"]) == at_month_end
    assert replay(statement) == at_month_end
    # And it opens at nothing (she joined this month) with the welcome credit as the first line
    assert statement["opening_balance"] == "0.00"
    kinds = [(line["kind"], line["status"], line["direction"], line["amount"]) for line in statement["lines"]]
    assert kinds == [
        ("WELCOME_CREDIT", "SUCCESS", "received", "10000.00"),
        ("TRANSFER", "SUCCESS", "sent", "1250.00"),
        ("TRANSFER", "SUCCESS", "received", "99.99"),
        ("LOAN_COMMITMENT", "REFUNDED", "sent", "2000.00"),
        ("LOAN_REFUND", "SUCCESS", "received", "2000.00"),
        ("TRANSFER", "SUCCESS", "received", "10.00"),
    ]
    assert statement["lines"][3]["loan_id"] == statement["lines"][4]["loan_id"] == loan_id
    # And the CSV says the same: a header, the opening balance, the six lines, the closing balance
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["Content-Disposition"] == f'attachment; filename="vaultpay-statement-{month}.csv"'
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [row["kind"] for row in rows] == ["OPENING_BALANCE", *(kind for kind, *_ in kinds), "CLOSING_BALANCE"]
    assert paise(rows[-1]["balance"]) == at_month_end
    # And the month that followed opens where this one closed, and is the month so far
    following = api.get(
        f"/api/wallet/statements/{end.astimezone(IST).strftime('%Y-%m')}/", asha, headers={"Accept": "application/json"}
    )
    assert following.status_code == 200, following.text
    assert following.json()["opening_balance"] == statement["closing_balance"]
    assert following.json()["closed"] is False
    assert paise(following.json()["closing_balance"]) == api.balance_paise(asha) == at_month_end - 500


def test_statements_refuse_bad_months_and_strangers(api: Api) -> None:
    user: User = api.new_user()
    for month in ("2026-13", "abcd-ef", "2026-1"):
        response = api.get(f"/api/wallet/statements/{month}/", user)
        assert response.status_code == 422, response.text
        assert response.headers["Content-Type"] == "application/problem+json"
    future = api.get("/api/wallet/statements/2099-01/", user)
    assert future.status_code == 404
    assert future.json()["type"].endswith("/statement-not-available")
    assert api.get("/api/wallet/statements/2026-11/").status_code == 401
