"""Lending through the API, for tests that talk to the local stack."""

from __future__ import annotations

import uuid
from typing import Any

import requests

from tests.support.api import Api, User


def paise(amount: str) -> int:
    rupees, _, fraction = amount.partition(".")
    return int(rupees) * 100 + int((fraction + "00")[:2])


def request_loan(
    api: Api,
    borrower: User,
    amount: str,
    *,
    tenure_months: int = 12,
    annual_rate: str = "14.50",
    purpose: str = "Working capital",
    key: str | None = None,
    **extra: Any,
) -> requests.Response:
    body = {"amount": amount, "tenure_months": tenure_months, "annual_rate": annual_rate, "purpose": purpose, **extra}
    return api.post("/api/loans/", body, user=borrower, headers={"Idempotency-Key": key or str(uuid.uuid4())})


def open_loan(api: Api, borrower: User, amount: str, **terms: Any) -> str:
    response = request_loan(api, borrower, amount, **terms)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def commit(api: Api, lender: User, loan_id: str, amount: str, *, key: str | None = None) -> requests.Response:
    return api.post(
        f"/api/loans/{loan_id}/commitments/",
        {"amount": amount},
        user=lender,
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


def repay(api: Api, borrower: User, loan_id: str, *, prepay: bool = False, key: str | None = None) -> requests.Response:
    body = {"prepay": True} if prepay else {}
    return api.post(
        f"/api/loans/{loan_id}/repayments/", body, user=borrower, headers={"Idempotency-Key": key or str(uuid.uuid4())}
    )


def loan(api: Api, user: User, loan_id: str) -> dict[str, Any]:
    response = api.get(f"/api/loans/{loan_id}/", user)
    assert response.status_code == 200, response.text
    return dict(response.json())


def advance_clock(api: Api, days: float) -> None:
    response = api.post("/_local/clock", {"advance_days": days})
    assert response.status_code == 200, response.text


def sweep(api: Api) -> dict[str, Any]:
    response = api.post("/_local/schedules/LoanSweeperFunction/run")
    assert response.status_code == 200, response.text
    return dict(response.json()["result"])
