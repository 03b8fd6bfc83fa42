"""Lending over HTTP against the local stack: races, retries, caps and refusals (the clock is not moved here)."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.api import Api, User
from tests.support.loans import commit, loan, open_loan, paise, repay, request_loan
from tests.support.stack import RunningStack
from tools.reconcile import reconcile

pytestmark = pytest.mark.stack
WELCOME_PAISE = 1_000_000
PROBLEM = "application/problem+json"


def _concurrently(calls: list[Any], workers: int = 16) -> list[Any]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda call: call(), calls))


def _warm(api: Api, people: list[User]) -> None:
    """Execution environments of the authorizer and the lending function for as many clients as
    the race has, started first and in steps (a burst of cold starts is Lambda's scaling, not what
    the race tests; a starved one may time out here, and is replaced)."""
    for size in (4, 8, len(people)):
        _concurrently([lambda person=person: Api(api.base_url).get("/api/loans/open/", person) for person in people[:size]])


def _fund(api: Api, receiver: User, donors: int) -> None:
    """Gives ``receiver`` the welcome credit of ``donors`` new people (Rs 10,000 each)."""
    for _ in range(donors):
        donor = api.new_user()
        response = api.transfer(donor, receiver, "10000.00")
        assert response.status_code == 201, response.text


def _problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert response.json()["type"].endswith("/" + code), response.text


def test_sixteen_lenders_racing_never_overfund_a_request(api: Api) -> None:
    # Given a request for Rs 50,000 and sixteen lenders each offering Rs 5,000 at once
    borrower = api.new_user(full_name="Asha Borrower")
    loan_id = open_loan(api, borrower, "50000.00")
    lenders = [api.new_user() for _ in range(16)]
    _warm(api, lenders)

    # When they all commit at the same moment
    responses = _concurrently([lambda lender=lender: commit(Api(api.base_url), lender, loan_id, "5000.00") for lender in lenders])

    # Then exactly ten commitments went through and the request is funded to the paisa, and disbursed
    accepted = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(accepted) == 10, [r.text for r in refused]
    for response in refused:
        assert response.status_code == 409, response.text
        assert response.headers["Content-Type"].startswith(PROBLEM), response.text
        assert response.json()["type"].rsplit("/", 1)[1] in ("commitment-exceeds-remaining", "loan-not-open", "concurrent-update")
    detail = loan(api, borrower, loan_id)
    assert (detail["status"], detail["funded"], detail["lenders"]) == ("ACTIVE", "50000.00", 10)
    # And the money went exactly where it should: lenders down by what was accepted, the borrower up by the loan
    balances = [api.balance_paise(lender) for lender in lenders]
    assert sorted(balances) == [WELCOME_PAISE - 500_000] * 10 + [WELCOME_PAISE] * 6
    assert api.balance_paise(borrower) == WELCOME_PAISE + 5_000_000


def test_no_lender_passes_the_cap_to_one_borrower_under_concurrency(api: Api) -> None:
    # Given a lender with Rs 60,000 and four requests of one borrower, Rs 20,000 offered to each at once
    lender = api.new_user()
    _fund(api, lender, 5)
    borrower = api.new_user()
    loans = [open_loan(api, borrower, "40000.00") for _ in range(4)]
    _warm(api, [lender] * 4)

    # When the four commitments race (Rs 80,000 in all, against a cap of Rs 50,000 per borrower)
    responses = _concurrently(
        [lambda loan_id=loan_id: commit(Api(api.base_url), lender, loan_id, "20000.00") for loan_id in loans]
    )

    # Then two went through (Rs 40,000) and the others were refused by the cap, with the room left
    accepted = [r for r in responses if r.status_code == 201]
    assert len(accepted) == 2, [r.text for r in responses]
    for response in responses:
        if response.status_code != 201:
            _problem(response, 422, "lending-cap-exceeded")
            assert response.json()["cap"] == "lender_to_borrower"
            assert response.json()["remaining"] == "10000.00"
    assert api.balance_paise(lender) == 6 * WELCOME_PAISE - 4_000_000


def test_a_retried_commitment_moves_money_once(api: Api) -> None:
    # Given a commitment whose response was lost
    borrower, lender = api.new_user(), api.new_user()
    loan_id = open_loan(api, borrower, "20000.00")
    key = str(uuid.uuid4())
    first = commit(api, lender, loan_id, "2500.00", key=key)
    assert first.status_code == 201, first.text

    # When it is sent again with the same key, sequentially and then three times at once
    again = commit(api, lender, loan_id, "2500.00", key=key)
    racing = _concurrently([lambda: commit(Api(api.base_url), lender, loan_id, "2500.00", key=key) for _ in range(3)])

    # Then every answer is the original, and the money moved once
    for response in [again, *racing]:
        assert response.status_code in (201, 409), response.text
        if response.status_code == 201:
            assert response.json()["reference_id"] == first.json()["reference_id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert api.balance_paise(lender) == WELCOME_PAISE - 250_000
    assert loan(api, borrower, loan_id)["funded"] == "2500.00"
    # And the same key with another amount is refused, moving nothing
    _problem(commit(api, lender, loan_id, "3000.00", key=key), 422, "idempotency-key-reused")
    assert api.balance_paise(lender) == WELCOME_PAISE - 250_000


def test_commitments_show_pending_then_success_and_repayments_reach_every_lender(api: Api) -> None:
    # Given a request funded by two lenders, the first of them still pending
    borrower, first, second = api.new_user(), api.new_user(), api.new_user()
    loan_id = open_loan(api, borrower, "6000.00", tenure_months=6)
    assert commit(api, first, loan_id, "2000.00").status_code == 201
    pending = [e for e in api.history(first) if e.get("kind") == "LOAN_COMMITMENT"]
    assert [e["status"] for e in pending] == ["PENDING"]

    # When the second fills it, and the borrower pays the first installment twice with the same key
    assert commit(api, second, loan_id, "4000.00").status_code == 201
    key = str(uuid.uuid4())
    paid = repay(api, borrower, loan_id, key=key)
    replay = repay(api, borrower, loan_id, key=key)

    # Then the commitment is SUCCESS, the disbursal is in the borrower's history, and the
    # installment was paid once, split 1:2 between the lenders
    assert paid.status_code == 201, (paid.text, replay.text)
    assert replay.status_code == 201, (paid.text, replay.text)
    assert replay.json()["reference_id"] == paid.json()["reference_id"]
    assert [e["status"] for e in api.history(first) if e.get("kind") == "LOAN_COMMITMENT"] == ["SUCCESS"]
    kinds = Counter(e.get("kind") for e in api.history(borrower))
    assert kinds["LOAN_DISBURSAL"] == 1
    assert kinds["LOAN_REPAYMENT"] == 1
    installment = paise(paid.json()["amount"])
    received = [
        sum(paise(e["amount"]) for e in api.history(lender) if e.get("kind") == "LOAN_REPAYMENT") for lender in (first, second)
    ]
    assert sum(received) == installment
    assert abs(2 * received[0] - received[1]) <= 2
    detail = loan(api, first, loan_id)
    assert detail["my_share"]["received_total"] == f"{received[0] // 100}.{received[0] % 100:02d}"
    assert detail["schedule"][0]["status"] == "PAID"
    assert detail["schedule"][1]["status"] == "DUE"


def test_cancel_refunds_every_lender_once_even_when_sent_twice_at_once(api: Api, stack: RunningStack) -> None:
    # Given a request with three commitments
    borrower = api.new_user()
    lenders = [api.new_user() for _ in range(3)]
    loan_id = open_loan(api, borrower, "30000.00")
    for lender in lenders:
        assert commit(api, lender, loan_id, "3000.00").status_code == 201

    # When the borrower cancels it twice at once
    responses = _concurrently([lambda: Api(api.base_url).post(f"/api/loans/{loan_id}/cancel/", user=borrower) for _ in range(2)])

    # Then it is cancelled, every lender has their money back exactly once, and the books balance
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    assert loan(api, borrower, loan_id)["status"] == "CANCELLED"
    assert [api.balance_paise(lender) for lender in lenders] == [WELCOME_PAISE] * 3
    for lender in lenders:
        refunds = [e for e in api.history(lender) if e.get("kind") == "LOAN_REFUND"]
        assert [(e["amount"], e["status"]) for e in refunds] == [("3000.00", "SUCCESS")]
        assert [e["status"] for e in api.history(lender) if e.get("kind") == "LOAN_COMMITMENT"] == ["REFUNDED"]
    report = reconcile(
        stack.client("dynamodb"), stack.resource("MainTable"), stack.resource("AuditTable"), audit_grace_seconds=20
    )
    assert report.clean, report.render()


@pytest.fixture(scope="module")
def parties(stack: RunningStack) -> dict[str, Any]:
    api = Api(stack.url)
    borrower, lender, stranger = api.new_user(), api.new_user(), api.new_user()
    open_id = open_loan(api, borrower, "20000.00")
    active_id = open_loan(api, borrower, "2000.00")
    assert commit(api, lender, active_id, "2000.00").status_code == 201
    cancelled_id = open_loan(api, borrower, "5000.00")
    assert api.post(f"/api/loans/{cancelled_id}/cancel/", user=borrower).status_code == 200
    return {
        "api": api,
        "borrower": borrower,
        "lender": lender,
        "stranger": stranger,
        "open": open_id,
        "active": active_id,
        "cancelled": cancelled_id,
    }


BAD_REQUESTS = [
    ("rate below the band", "request", {"annual_rate": "9.99"}, 422, "loan-terms-invalid"),
    ("rate above the band", "request", {"annual_rate": "36.01"}, 422, "loan-terms-invalid"),
    ("rate with three decimals", "request", {"annual_rate": "12.345"}, 422, "validation-error"),
    ("tenure of 37 months", "request", {"tenure_months": 37}, 422, "validation-error"),
    ("tenure of 0 months", "request", {"tenure_months": 0}, 422, "validation-error"),
    ("amount below Rs 1,000", "request", {"amount": "999.99"}, 422, "loan-terms-invalid"),
    ("amount past the borrower's cap", "request", {"amount": "1000000.01"}, 422, "lending-cap-exceeded"),
    ("funding window of 15 days", "request", {"funding_days": 15}, 422, "validation-error"),
    ("an unknown field", "request", {"interest_free": True}, 422, "validation-error"),
    ("your own request", "commit-own", "2000.00", 422, "own-loan"),
    ("below the minimum", "commit-open", "499.99", 422, "commitment-below-minimum"),
    ("above the remainder", "commit-open", "20000.01", 409, "commitment-exceeds-remaining"),
    ("leaving too little", "commit-open", "19600.00", 422, "commitment-leaves-too-little"),
    ("a closed request", "commit-cancelled", "1000.00", 409, "loan-not-open"),
    ("a funded request", "commit-active", "1000.00", 409, "loan-not-open"),
    ("no such loan", "commit-missing", "1000.00", 404, "loan-not-found"),
    ("more than the balance", "commit-open", "12000.00", 422, "insufficient-funds"),
    ("a stranger's active loan", "detail-active", None, 404, "loan-not-found"),
    ("a stranger repaying", "repay-stranger", None, 404, "loan-not-found"),
    ("repaying an open request", "repay-open", None, 409, "loan-not-active"),
    ("cancelling a funded loan", "cancel-active", None, 409, "loan-not-cancellable"),
    ("a lender cancelling", "cancel-by-stranger", None, 409, "loan-not-cancellable"),
]


@pytest.mark.parametrize(("case", "action", "value", "status", "code"), BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS])
def test_bad_input_is_a_problem_and_changes_nothing(
    parties: dict[str, Any], case: str, action: str, value: Any, status: int, code: str
) -> None:
    api: Api = parties["api"]
    borrower, lender, stranger = parties["borrower"], parties["lender"], parties["stranger"]
    people = (borrower, lender, stranger)
    # Given everyone's balance and the loans as they are
    before = [api.balance_paise(person) for person in people]
    loans_before = [loan(api, borrower, parties[name]) for name in ("open", "active", "cancelled")]
    requests_before = api.get("/api/loans/", borrower, params={"role": "borrower", "limit": "50"}).json()["results"]

    # When the bad request is made
    if action == "request":
        terms = {"amount": "5000.00", "tenure_months": 12, "annual_rate": "14.50", "purpose": "A fine purpose", **value}
        response = api.post("/api/loans/", terms, user=borrower, headers={"Idempotency-Key": str(uuid.uuid4())})
    elif action.startswith("commit-"):
        target = action.removeprefix("commit-")
        loan_id = parties["open"] if target == "own" else parties.get(target, str(uuid.uuid4()))
        response = commit(api, borrower if target == "own" else stranger, loan_id, value)
    elif action == "detail-active":
        response = api.get(f"/api/loans/{parties['active']}/", stranger)
    elif action.startswith("repay-"):
        who, loan_id = (stranger, parties["active"]) if action == "repay-stranger" else (borrower, parties["open"])
        response = repay(api, who, loan_id)
    else:
        who = borrower if action == "cancel-active" else lender
        loan_id = parties["active"] if action == "cancel-active" else parties["open"]
        response = api.post(f"/api/loans/{loan_id}/cancel/", user=who)

    # Then it is refused with a problem, and nothing changed
    _problem(response, status, code)
    assert [api.balance_paise(person) for person in people] == before
    assert [loan(api, borrower, parties[name]) for name in ("open", "active", "cancelled")] == loans_before
    assert api.get("/api/loans/", borrower, params={"role": "borrower", "limit": "50"}).json()["results"] == requests_before


def test_open_requests_exclude_your_own_and_page_by_rate(api: Api) -> None:
    # Given three requests at different rates from one borrower
    borrower, lender = api.new_user(), api.new_user()
    ids = {rate: open_loan(api, borrower, "3000.00", annual_rate=rate) for rate in ("11.00", "35.50", "20.25")}

    # When the borrower and a lender list open requests by rate, one per page
    own = api.get("/api/loans/open/", borrower, params={"order": "rate", "limit": "50"}).json()["results"]
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"order": "rate", "limit": "1", **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/loans/open/", lender, params=params).json()
        seen.extend(page["results"])
        cursor = page["next_cursor"]
        if not cursor:
            break

    # Then the borrower does not see their own; the lender sees them highest rate first, the e-mail masked
    assert not {item["id"] for item in own} & set(ids.values())
    mine = [item for item in seen if item["id"] in ids.values()]
    assert [item["annual_rate"] for item in mine] == ["35.50", "20.25", "11.00"]
    assert all(item["borrower"]["email"].startswith(borrower.email[0] + "***@") for item in mine)
    # And a cursor of another order is refused
    first = api.get("/api/loans/open/", lender, params={"order": "rate", "limit": "1"}).json()["next_cursor"]
    _problem(api.get("/api/loans/open/", lender, params={"order": "tenure", "cursor": first}), 400, "invalid-cursor")


def test_a_request_retried_with_its_key_is_one_request(api: Api) -> None:
    # Given a loan request sent twice with one key
    borrower = api.new_user()
    key = str(uuid.uuid4())
    first = request_loan(api, borrower, "4000.00", key=key)
    second = request_loan(api, borrower, "4000.00", key=key)
    # Then both answers name the same request, and the borrower has one
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    mine = api.get("/api/loans/", borrower, params={"role": "borrower"}).json()["results"]
    assert [item["id"] for item in mine] == [first.json()["id"]]
