"""A loan's detail tells a prospective lender what the caps still let them lend (moto): to this
borrower, and on the platform in all, from the counters the commitments' transactions keep."""

from __future__ import annotations

from typing import Any

import pytest

from tests.handlers.conftest import Invoke, body, register_people
from tests.support.events import http_event


@pytest.fixture
def people(identity: Invoke) -> dict[str, str]:
    """Asha (the borrower), Ravi and Meera (lenders), Rs 10,000.00 each."""
    return register_people(identity, "asha", "ravi", "meera")


def call(lending: Invoke, method: str, path: str, user: str, payload: Any = None, key: str | None = None) -> dict[str, Any]:
    headers = {"idempotency-key": key} if key else {}
    return lending(http_event(method, path, body=payload, headers=headers, user_id=user))


def detail(lending: Invoke, loan_id: str, user: str) -> dict[str, Any]:
    response = lending(
        http_event(
            "GET",
            f"/api/loans/{loan_id}/",
            user_id=user,
            path_parameters={"loan_id": loan_id},
            route_key="GET /api/loans/{loan_id}/",
        )
    )
    assert response["statusCode"] == 200, response
    return dict(body(response))


@pytest.fixture
def loan_id(lending: Invoke, people: dict[str, str]) -> str:
    """Asha asks for Rs 60,000.00 over 12 months at 14%; Ravi commits Rs 5,000.00 of it."""
    request = {"amount": "60000.00", "tenure_months": 12, "annual_rate": "14.00", "purpose": "Stock for the shop"}
    created = call(lending, "POST", "/api/loans/", people["asha"], request, key="room-request-0001")
    assert created["statusCode"] == 201, created
    identifier = str(body(created)["id"])
    committed = call(
        lending, "POST", f"/api/loans/{identifier}/commitments/", people["ravi"], {"amount": "5000.00"}, key="room-commit-0001"
    )
    assert committed["statusCode"] == 201, committed
    return identifier


def test_a_lender_sees_the_room_left_to_this_borrower_and_in_all(lending: Invoke, people: dict[str, str], loan_id: str) -> None:
    # When Ravi, who has Rs 5,000.00 committed to Asha, opens her request
    room = detail(lending, loan_id, people["ravi"])["my_room"]
    # Then the caps (Rs 50,000 to one borrower, Rs 50,00,000 in all) less what he has outstanding
    assert room == {"to_borrower": "45000.00", "in_total": "4995000.00"}


def test_someone_who_has_not_lent_sees_the_whole_caps(lending: Invoke, people: dict[str, str], loan_id: str) -> None:
    room = detail(lending, loan_id, people["meera"])["my_room"]
    assert room == {"to_borrower": "50000.00", "in_total": "5000000.00"}


def test_the_borrower_sees_no_room(lending: Invoke, people: dict[str, str], loan_id: str) -> None:
    assert detail(lending, loan_id, people["asha"])["my_room"] is None


def test_a_refunded_commitment_gives_the_room_back(lending: Invoke, people: dict[str, str], loan_id: str) -> None:
    # Given Asha withdraws her request (Ravi's commitment goes back)
    cancelled = lending(
        http_event(
            "POST",
            f"/api/loans/{loan_id}/cancel/",
            user_id=people["asha"],
            path_parameters={"loan_id": loan_id},
            route_key="POST /api/loans/{loan_id}/cancel/",
        )
    )
    assert cancelled["statusCode"] == 200, cancelled
    # Then Ravi, a lender of it still, has the whole caps again
    room = detail(lending, loan_id, people["ravi"])["my_room"]
    assert room == {"to_borrower": "50000.00", "in_total": "5000000.00"}
