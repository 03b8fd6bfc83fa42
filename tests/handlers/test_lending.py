"""Lending handlers in-process against moto: routes, validation, the idempotent money movers, the sweeper."""

from __future__ import annotations

from typing import Any

import pytest

from tests.handlers.conftest import Invoke, body, load_function, register_people
from tests.support.events import LambdaContextStub, http_event


@pytest.fixture
def people(identity: Invoke) -> dict[str, str]:
    """A borrower and two lenders (Rs 10,000.00 each): name -> user id."""
    return register_people(identity, "meera", "arjun", "kavya")


def post(lending: Invoke, path: str, payload: dict[str, Any], user: str, key: str) -> dict[str, Any]:
    return lending(http_event("POST", path, body=payload, headers={"idempotency-key": key}, user_id=user))


def test_a_quote_is_the_schedule_and_bad_terms_are_a_problem(lending: Invoke, people: dict[str, str]) -> None:
    # When a borrower asks for a quote, then for one at a rate that is not a number
    query = {"amount": "12000", "tenure_months": "12", "annual_rate": "14.50"}
    good = lending(http_event("GET", "/api/loans/quote/", query=query, user_id=people["meera"]))
    bad = lending(http_event("GET", "/api/loans/quote/", query={**query, "annual_rate": "fourteen"}, user_id=people["meera"]))
    # Then the first is the EMI schedule, the second a 422 problem naming the parameter
    assert good["statusCode"] == 200, good
    quote = body(good)
    assert quote["installment"] == "1080.27"
    assert len(quote["schedule"]) == 12
    assert bad["statusCode"] == 422
    assert bad["headers"]["Content-Type"] == "application/problem+json"
    assert body(bad)["errors"][0]["location"][-1] == "annual_rate"


def test_request_commit_disburse_repay_and_replay(lending: Invoke, people: dict[str, str]) -> None:
    # Given a request for Rs 6,000 funded by two lenders
    created = post(
        lending,
        "/api/loans/",
        {"amount": "6000", "tenure_months": 6, "annual_rate": "12", "purpose": "Tools"},
        people["meera"],
        "request-0001",
    )
    assert created["statusCode"] == 201, created
    loan_id = body(created)["id"]
    first = post(lending, f"/api/loans/{loan_id}/commitments/", {"amount": "2000.00"}, people["arjun"], "commit-0001")
    assert body(first)["status"] == "PENDING"
    second = post(lending, f"/api/loans/{loan_id}/commitments/", {"amount": "4000.00"}, people["kavya"], "commit-0002")
    assert body(second)["loan_status"] == "ACTIVE"

    # When the borrower pays the first installment, and the request is sent again with its key
    paid = post(lending, f"/api/loans/{loan_id}/repayments/", {}, people["meera"], "repay-0001")
    again = post(lending, f"/api/loans/{loan_id}/repayments/", {}, people["meera"], "repay-0001")

    # Then the second answer is the first, replayed, and installment 1 alone is paid
    assert paid["statusCode"] == 201, paid
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert body(again)["reference_id"] == body(paid)["reference_id"]
    detail = body(lending(http_event("GET", f"/api/loans/{loan_id}/", user_id=people["arjun"])))
    assert [item["status"] for item in detail["schedule"]] == ["PAID"] + ["DUE"] * 5
    assert detail["my_share"]["received_total"] == detail["my_share"]["installments"][0]["received"]


def test_the_sweeper_runs_on_an_empty_table(aws_stack: dict[str, str]) -> None:
    # Given the sweeper's handler (a module of its own in the lending folder)
    module = load_function("lending", "sweeper")
    # When EventBridge Scheduler invokes it with nothing to do
    report = module.lambda_handler({"source": "aws.scheduler", "detail": {}}, LambdaContextStub())
    # Then it reports that it did nothing
    assert report == {"expired": 0, "refunded": 0, "collected": 0, "marked_overdue": 0, "defaulted": 0}
