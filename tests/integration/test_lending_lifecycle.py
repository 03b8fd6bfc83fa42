"""A loan's whole life on a stack of its own, its clock moved forward as the months pass: the
sweeper collects, marks overdue, expires and defaults, as the template's schedule would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.support.api import Api, User
from tests.support.loans import commit, loan, open_loan, paise, repay, sweep
from tests.support.stack import RunningStack
from tools.reconcile import reconcile

pytestmark = [pytest.mark.stack, pytest.mark.own_stacks]
IST = timezone(timedelta(hours=5, minutes=30))
WELCOME_PAISE = 1_000_000


@pytest.fixture(scope="module")
def api(own_stack: RunningStack) -> Iterator[Api]:
    client = Api(own_stack.url)
    yield client
    client.close()


def stack_now(api: Api) -> datetime:
    response = api.get("/_local/clock")
    assert response.status_code == 200, response.text
    return datetime.fromisoformat(response.json()["now"])


def advance_to(api: Api, day: date, *people: User) -> None:
    """Moves the stack's clock to 01:00 IST on ``day`` and logs everyone in again (the jump ends sessions)."""
    target = datetime(day.year, day.month, day.day, 1, 0, tzinfo=IST).astimezone(UTC)
    seconds = (target - stack_now(api)).total_seconds()
    if seconds > 0:
        response = api.post("/_local/clock", {"advance_seconds": seconds})
        assert response.status_code == 200, response.text
    for person in people:
        api.login(person)


def move(api: Api, sender: User, receiver: User, amount_paise: int) -> None:
    """Sends an amount in transfers of at most Rs 10,000 (above it a transfer needs a step-up)."""
    while amount_paise > 0:
        part = min(amount_paise, 1_000_000)
        response = api.transfer(sender, receiver, f"{part // 100}.{part % 100:02d}")
        assert response.status_code == 201, response.text
        amount_paise -= part


def check_books(stack: RunningStack) -> None:
    report = reconcile(
        stack.client("dynamodb"), stack.resource("MainTable"), stack.resource("AuditTable"), audit_grace_seconds=30
    )
    assert report.clean, report.render()


def installments(api: Api, user: User, loan_id: str) -> list[dict[str, Any]]:
    return list(loan(api, user, loan_id)["schedule"])


def test_a_whole_life_three_lenders_twelve_installments_one_overdue(api: Api, own_stack: RunningStack) -> None:
    # Given a borrower, a friend to park money with, and three lenders
    borrower, friend = api.new_user(full_name="Meera Borrower"), api.new_user()
    lenders = [api.new_user(full_name=f"Lender {n}") for n in range(3)]
    everyone = [borrower, friend, *lenders]
    total_before = sum(api.balance_paise(person) for person in everyone)

    # When a request for Rs 24,000 over 12 months at 18 % is funded by the three (8,000 + 6,000 + 10,000)
    loan_id = open_loan(api, borrower, "24000.00", tenure_months=12, annual_rate="18.00")
    for lender, amount in zip(lenders, ("8000.00", "6000.00", "10000.00"), strict=True):
        assert commit(api, lender, loan_id, amount).status_code == 201

    # Then it is disbursed at once, with a fixed schedule of twelve
    detail = loan(api, borrower, loan_id)
    assert detail["status"] == "ACTIVE"
    assert len(detail["schedule"]) == 12
    assert api.balance_paise(borrower) == WELCOME_PAISE + 2_400_000
    due_days = [date.fromisoformat(item["due_on"]) for item in detail["schedule"]]
    check_books(own_stack)

    for number, due_on in enumerate(due_days, start=1):
        if number in (1, 3, 10, 11):
            # paid by hand, before it falls due
            response = repay(api, borrower, loan_id)
            assert response.status_code == 201, response.text
            assert response.json()["installments"] == [number]
            advance_to(api, due_on, *everyone)
        elif number == 4:
            # the borrower moves everything out: the auto-debit on the due day cannot collect
            parked = api.balance_paise(borrower) - 100
            move(api, borrower, friend, parked)
            advance_to(api, due_on, *everyone)
            sweep(api)
            assert installments(api, borrower, loan_id)[3]["status"] == "DUE"
            # the next day it is OVERDUE, with its late fee, and the loan shows it
            advance_to(api, due_on + timedelta(days=1), *everyone)
            sweep(api)
            overdue = installments(api, borrower, loan_id)[3]
            assert overdue["status"] == "OVERDUE"
            assert paise(overdue["late_fee"]) > 0
            assert loan(api, borrower, loan_id)["display_status"] == "OVERDUE"
            # the money comes back and the borrower pays it by hand, fee included
            move(api, friend, borrower, parked)
            response = repay(api, borrower, loan_id)
            assert response.status_code == 201, response.text
            assert response.json()["installments"] == [4]
            assert response.json()["late_fee"] == overdue["late_fee"]
        else:
            # auto-debited on its due day
            advance_to(api, due_on, *everyone)
            sweep(api)
            assert installments(api, borrower, loan_id)[number - 1]["status"] == "PAID", number
        if number in (4, 8, 12):
            check_books(own_stack)

    # Then the loan is REPAID, every lender received what the schedule promised them, and no money was made or lost
    final = loan(api, borrower, loan_id)
    assert final["status"] == "REPAID"
    assert final["principal_outstanding"] == "0.00"
    assert {item["status"] for item in final["schedule"]} == {"PAID"}
    for lender in lenders:
        share = loan(api, lender, loan_id)["my_share"]
        assert share["received_total"] == share["expected_total"]
    assert sum(api.balance_paise(person) for person in everyone) == total_before
    history = api.history(borrower)
    assert sum(1 for entry in history if entry.get("kind") == "LOAN_REPAYMENT") == 12
    check_books(own_stack)


def test_an_expired_request_is_refunded_once_by_two_sweeps_at_once(api: Api, own_stack: RunningStack) -> None:
    # Given a request open for one day with two commitments
    borrower, first, second = api.new_user(), api.new_user(), api.new_user()
    loan_id = open_loan(api, borrower, "10000.00", funding_days=1)
    assert commit(api, first, loan_id, "3000.00").status_code == 201
    assert commit(api, second, loan_id, "2000.00").status_code == 201

    # When its deadline passes and two sweeps run at once
    advance_to(api, (stack_now(api) + timedelta(days=2)).astimezone(IST).date(), borrower, first, second)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: sweep(Api(api.base_url)), range(2)))

    # Then it is EXPIRED and each lender got their commitment back exactly once
    assert loan(api, borrower, loan_id)["status"] == "EXPIRED"
    assert [api.balance_paise(lender) for lender in (first, second)] == [WELCOME_PAISE, WELCOME_PAISE]
    for lender in (first, second):
        assert sum(1 for entry in api.history(lender) if entry.get("kind") == "LOAN_REFUND") == 1
    # And a commitment now is refused
    late = commit(api, api.new_user(), loan_id, "1000.00", key=str(uuid.uuid4()))
    assert late.status_code == 409
    assert late.json()["type"].endswith("/loan-not-open")
    check_books(own_stack)


def test_a_loan_overdue_beyond_ninety_days_defaults_and_the_lender_bears_it(api: Api, own_stack: RunningStack) -> None:
    # Given an active loan whose borrower has spent the money
    borrower, lender, sink = api.new_user(), api.new_user(), api.new_user()
    loan_id = open_loan(api, borrower, "5000.00", tenure_months=6)
    assert commit(api, lender, loan_id, "5000.00").status_code == 201
    move(api, borrower, sink, 1_499_900)
    first_due = date.fromisoformat(installments(api, borrower, loan_id)[0]["due_on"])

    # When 91 days pass after the first due day without payment (the sweeper running daily)
    for day in (first_due + timedelta(days=1), first_due + timedelta(days=45), first_due + timedelta(days=91)):
        advance_to(api, day, borrower, lender)
        sweep(api)

    # Then the loan is DEFAULTED, the lender keeps the loss (the platform guarantees nothing), and the books still balance
    final = loan(api, borrower, loan_id)
    assert final["status"] == "DEFAULTED"
    assert api.balance_paise(lender) == WELCOME_PAISE - 500_000
    record = loan(api, lender, loan_id)["borrower"]["record"]
    assert record["loans_defaulted"] == 1
    assert record["late_installments"] >= 3
    check_books(own_stack)
