"""The lending logic against the in-memory ``LoanStore``: requests, commitments through escrow,
disbursal, repayments, the sweep (expiry, refunds, auto-debit, overdue, default) and the reads.

After every test the books must balance (``books``): no money created or destroyed (balances and
escrows), every balance explained by its ledger, every loan's escrow its open commitments and its
outstanding principal the amount less what was repaid, and every cap counter what the loans say.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from tests.unit.fakes import FakeClock, Tables
from tests.unit.lending.fakes import FakeLoanStore
from vaultpay.core.clock import IST
from vaultpay.core.cursor import encode_cursor
from vaultpay.core.errors import (
    AlreadyCommitted,
    CommitmentAboveRemaining,
    CommitmentBelowMinimum,
    CommitmentLeavesTooLittle,
    ConcurrentUpdate,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidCursor,
    LendingCapExceeded,
    LoanChanged,
    LoanLendersFull,
    LoanNotActive,
    LoanNotCancellable,
    LoanNotFound,
    LoanNotOpen,
    LoanTermsInvalid,
    OwnLoan,
)
from vaultpay.core.records import PartyRef, TransactionRecord
from vaultpay.lending.logic import LendingPolicy, LendingService, reference_for
from vaultpay.lending.models import (
    CommitmentOutcome,
    CommitmentRequest,
    LoanCreated,
    LoanRecord,
    LoanRequest,
    RepaymentOutcome,
    RepaymentRequest,
)
from vaultpay.lending.ports import Caps
from vaultpay.lending.schedule import due_dates, installment_plan


def party(number: int, name: str) -> PartyRef:
    return PartyRef(user_id=f"{number:08d}-0000-4000-8000-000000000000", email=f"{name.lower()}@example.com", full_name=name)


BORROWER = party(1, "Asha")
OTHER_BORROWER = party(2, "Bala")
STRANGER = party(3, "Chitra")
SHOP = party(4, "Shop")
LENDERS = [party(100 + n, f"Lender{n:02d}") for n in range(44)]
L1, L2, L3, L4 = LENDERS[:4]

BORROWER_OPENING = 1_000_000  # ₹10,000
LENDER_OPENING = 10_000_000  # ₹1,00,000

CAPS = Caps(lender_total=500_000_000, borrower_total=100_000_000, lender_to_borrower=5_000_000, lenders_per_loan=40)
POLICY = LendingPolicy(
    caps=CAPS,
    min_request=100_000,
    min_commitment=50_000,
    max_tenure_months=36,
    min_rate_bp=1000,
    max_rate_bp=3600,
    max_funding_days=14,
    late_fee_bp=200,
    default_after_days=90,
)
START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # 15:30 in India, 24 November


def with_caps(**changes: int) -> LendingPolicy:
    return replace(POLICY, caps=replace(CAPS, **changes))


def ist(day: date, hour: int = 6) -> datetime:
    """A moment on a day in India, as the clock (UTC) gives it."""
    return datetime.combine(day, time(hour), tzinfo=IST).astimezone(UTC)


# ---------------------------------------------------------------- fixtures
@pytest.fixture
def tables() -> Tables:
    tables = Tables()
    for borrower in (BORROWER, OTHER_BORROWER):
        tables.open_account(borrower, BORROWER_OPENING)
    for lender in LENDERS:
        tables.open_account(lender, LENDER_OPENING)
    tables.open_account(STRANGER, LENDER_OPENING)
    tables.open_account(SHOP, 0)
    return tables


@pytest.fixture
def store(tables: Tables) -> FakeLoanStore:
    return FakeLoanStore(tables)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def lending(store: FakeLoanStore, clock: FakeClock) -> LendingService:
    return LendingService(store=store, policy=POLICY, clock=clock)


@pytest.fixture(autouse=True)
def books(store: FakeLoanStore) -> Iterator[None]:
    """Whatever a test did, the books balance afterwards (``make reconcile``'s checks, and the caps)."""
    opening = {user_id: account.record.balance for user_id, account in store.tables.accounts.items()}
    money = store.money()
    yield
    assert_books_balance(store, opening, money)


def assert_books_balance(store: FakeLoanStore, opening: dict[str, int], money: int) -> None:
    # No money created or destroyed: every balance plus every escrow
    assert store.money() == money
    # Every balance is its opening plus what its ledger says came in, less what went out
    for user_id, account in store.tables.accounts.items():
        moved = sum(e.amount if e.direction == "received" else -e.amount for e in store.ledger(user_id) if e.status != "FAILED")
        assert account.record.balance == opening[user_id] + moved, user_id
    # A repayment's legs add up to it
    for txn in store.tables.transactions.values():
        if txn.kind == "LOAN_REPAYMENT":
            assert sum(leg.amount for leg in txn.legs) == txn.amount
    borrowing: dict[str, int] = {}
    lending: dict[str, int] = {}
    pairs: dict[tuple[str, str], int] = {}
    for loan in store.loans.values():
        commitments = store.commitments(loan.loan_id)
        committed = [c for c in commitments if c.status == "COMMITTED"]
        if loan.status in ("OPEN", "CANCELLED", "EXPIRED"):
            # Escrow = open commitments; nothing disbursed
            assert loan.escrow == sum(c.amount for c in committed)
            assert loan.funded == sum(c.amount for c in commitments) if loan.status == "OPEN" else True
        else:
            # Disbursed: the escrow empty, outstanding principal = disbursed - principal repaid
            assert loan.escrow == 0
            assert loan.funded == loan.amount == sum(c.amount for c in committed)
            assert loan.principal_outstanding == loan.amount - loan.principal_repaid
            assert loan.principal_repaid == sum(i.principal for i in loan.schedule if i.status == "PAID")
        owed = {"OPEN": loan.amount, "ACTIVE": loan.principal_outstanding, "DEFAULTED": loan.principal_outstanding}
        borrowing[loan.borrower.user_id] = borrowing.get(loan.borrower.user_id, 0) + owed.get(loan.status, 0)
        if loan.status != "REPAID":
            for c in committed:
                lending[c.lender.user_id] = lending.get(c.lender.user_id, 0) + c.amount
                key = (c.lender.user_id, loan.borrower.user_id)
                pairs[key] = pairs.get(key, 0) + c.amount
    # The caps' counters are what the loans say they are
    for user_id in store.tables.accounts:
        assert (store.attribute(user_id, "borrowing_outstanding") or 0) == borrowing.get(user_id, 0), user_id
        assert (store.attribute(user_id, "lending_outstanding") or 0) == lending.get(user_id, 0), user_id
        for borrower_id in (BORROWER.user_id, OTHER_BORROWER.user_id):
            assert (store.lent_to(user_id, borrower_id) or 0) == pairs.get((user_id, borrower_id), 0)


# ---------------------------------------------------------------- helpers
def ask(
    lending: LendingService,
    *,
    amount: str = "120000",
    tenure: int = 12,
    rate: str = "14.50",
    purpose: str = "Shop renovation",
    key: str = "request-0001",
    borrower: PartyRef = BORROWER,
    funding_days: int | None = None,
) -> LoanCreated:
    body: dict[str, Any] = {"amount": amount, "tenure_months": tenure, "annual_rate": rate, "purpose": purpose}
    if funding_days is not None:
        body["funding_days"] = funding_days
    return lending.request_loan(borrower.user_id, key, LoanRequest.model_validate(body))


def commit(lending: LendingService, loan_id: str, lender: PartyRef, amount: str, key: str | None = None) -> CommitmentOutcome:
    request = CommitmentRequest.model_validate({"amount": amount})
    return lending.commit(lender.user_id, key or f"commit-{lender.full_name}-{loan_id[:8]}", loan_id, request)


def repay(
    lending: LendingService, loan_id: str, key: str, *, prepay: bool = False, borrower: PartyRef = BORROWER
) -> RepaymentOutcome:
    return lending.repay(borrower.user_id, key, loan_id, RepaymentRequest(prepay=prepay))


def funded_loan(lending: LendingService, **request: Any) -> str:
    """₹1,20,000 over 12 months at 14.50 %, funded by three lenders (₹40,000 each) and disbursed now."""
    loan_id = ask(lending, **request).loan.id
    for lender in (L1, L2, L3):
        commit(lending, loan_id, lender, "40000")
    return loan_id


def wallet_transfer(tables: Tables, sender: PartyRef, receiver: PartyRef, amount: int, at: datetime) -> None:
    """A plain wallet transfer between two people, written as the wallet writes one."""
    txn = TransactionRecord(
        reference_id=f"transfer-{sender.user_id}-{receiver.user_id}-{amount}-{at.isoformat()}",
        kind="TRANSFER",
        status="SUCCESS",
        sender=sender,
        receiver=receiver,
        amount=amount,
        created_at=at,
    )
    tables.move(sender.user_id, -amount, txn)
    tables.move(receiver.user_id, amount, txn)
    tables.put_transaction(txn)


def spend(tables: Tables, who: PartyRef, amount: int, at: datetime) -> None:
    """``who`` pays the shop ``amount``, so as to be short on a due day."""
    wallet_transfer(tables, who, SHOP, amount, at)


def loan_of(store: FakeLoanStore, loan_id: str) -> LoanRecord:
    loan = store.get_loan(loan_id)
    assert loan is not None
    return loan


# ---------------------------------------------------------------- quote
def test_a_quote_is_the_schedule_a_loan_would_have_if_disbursed_today(lending: LendingService) -> None:
    # When a borrower asks what ₹1,00,000 over 12 months at 12 % would cost
    quote = lending.quote(10_000_000, 12, 1200)
    # Then it is the textbook EMI, due monthly from today (24 November, in India), to the paisa
    assert quote.installment == 888_488
    assert [line.due_on for line in quote.schedule] == due_dates(date(2026, 11, 24), 12)
    assert sum(line.principal for line in quote.schedule) == 10_000_000
    assert quote.total_payable == sum(line.amount for line in quote.schedule) == 10_000_000 + quote.total_interest


@pytest.mark.parametrize(
    ("amount", "tenure", "rate_bp"),
    [(99_999, 12, 1450), (100_000, 0, 1450), (100_000, 37, 1450), (100_000, 12, 999), (100_000, 12, 3601)],
    ids=["below-the-minimum-loan", "no-months", "past-36-months", "below-the-band", "above-the-band"],
)
def test_a_quote_outside_the_platforms_terms_is_refused(lending: LendingService, amount: int, tenure: int, rate_bp: int) -> None:
    with pytest.raises(LoanTermsInvalid):
        lending.quote(amount, tenure, rate_bp)


# ---------------------------------------------------------------- request
def test_a_request_is_open_to_lenders_and_reserves_its_amount_against_the_borrowers_cap(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock
) -> None:
    # When Asha asks for ₹1,20,000 for 12 months at 14.50 %, open for 7 days
    created = ask(lending, funding_days=7)
    # Then the request is open (PENDING to her), nothing funded, its deadline a week away
    loan = created.loan
    assert not created.replayed
    assert (loan.status, loan.display_status, loan.amount, loan.funded, loan.remaining) == (
        "OPEN",
        "PENDING",
        12_000_000,
        0,
        12_000_000,
    )
    assert (loan.annual_rate, loan.tenure_months, loan.role) == (1450, 12, "borrower")
    assert loan.funding_deadline == clock.now + timedelta(days=7)
    # And its amount counts against what she may still borrow
    assert store.attribute(BORROWER.user_id, "borrowing_outstanding") == 12_000_000


def test_a_request_without_a_funding_period_is_open_for_the_longest_allowed(lending: LendingService, clock: FakeClock) -> None:
    assert ask(lending).loan.funding_deadline == clock.now + timedelta(days=14)


@pytest.mark.parametrize(
    ("request_terms", "policy"),
    [
        ({"amount": "999.99"}, POLICY),
        ({"rate": "9.99"}, POLICY),
        ({"rate": "36.01"}, POLICY),
        ({"tenure": 25}, replace(POLICY, max_tenure_months=24)),
        ({"funding_days": 8}, replace(POLICY, max_funding_days=7)),
    ],
    ids=["below-1000-rupees", "below-the-rate-band", "above-the-rate-band", "longer-than-allowed", "open-too-long"],
)
def test_a_request_outside_the_terms_is_refused_and_nothing_is_written(
    store: FakeLoanStore, clock: FakeClock, request_terms: dict[str, Any], policy: LendingPolicy
) -> None:
    lending = LendingService(store=store, policy=policy, clock=clock)
    before = store.snapshot()
    with pytest.raises(LoanTermsInvalid):
        ask(lending, **request_terms)
    assert store.snapshot() == before


def test_a_request_above_the_borrower_cap_is_refused(lending: LendingService, store: FakeLoanStore) -> None:
    before = store.snapshot()
    with pytest.raises(LendingCapExceeded) as refused:
        ask(lending, amount="1000000.01")
    assert (refused.value.cap, refused.value.limit) == ("borrower_total", 100_000_000)
    assert store.snapshot() == before


def test_two_open_requests_together_may_not_pass_the_borrower_cap(lending: LendingService, store: FakeLoanStore) -> None:
    # Given Asha's open request for ₹6,00,000
    ask(lending, amount="600000", key="request-0001")
    before = store.snapshot()
    # When she asks for ₹4,00,000.01 more
    with pytest.raises(LendingCapExceeded) as refused:
        ask(lending, amount="400000.01", key="request-0002")
    # Then it is refused, with the ₹4,00,000 she may still ask for, and nothing is written
    assert (refused.value.cap, refused.value.remaining) == ("borrower_total", 40_000_000)
    assert store.snapshot() == before
    # And ₹4,00,000 exactly is within the cap
    ask(lending, amount="400000", key="request-0003")
    assert store.attribute(BORROWER.user_id, "borrowing_outstanding") == 100_000_000


def test_a_request_above_the_whole_cap_is_refused_with_the_room_the_borrower_has_left(lending: LendingService) -> None:
    # Given Asha's open request for ₹6,00,000
    ask(lending, amount="600000", key="request-0001")
    # When she asks for more than anyone may borrow
    with pytest.raises(LendingCapExceeded) as refused:
        ask(lending, amount="1000000.01", key="request-0002")
    # Then the problem tells her the ₹4,00,000 she may still ask for, as a smaller request's refusal does
    assert refused.value.remaining == 40_000_000


def test_a_cancelled_request_gives_the_borrower_her_room_back(lending: LendingService) -> None:
    loan_id = ask(lending, amount="1000000", key="request-0001").loan.id
    with pytest.raises(LendingCapExceeded):
        ask(lending, amount="1000", key="request-0002")
    lending.cancel(BORROWER.user_id, loan_id)
    assert ask(lending, amount="1000000", key="request-0003").loan.status == "OPEN"


def test_a_retried_request_is_the_same_request_and_a_changed_one_reuses_its_key(
    lending: LendingService, store: FakeLoanStore
) -> None:
    # Given a request made
    original = ask(lending, key="request-0001")
    before = store.snapshot()
    # When it is retried with the same key
    retried = ask(lending, key="request-0001")
    # Then it is the same loan, marked as a replay, and nothing more is reserved
    assert retried.replayed
    assert retried.loan == original.loan
    assert store.snapshot() == before
    # And the same key with other terms is refused
    with pytest.raises(IdempotencyKeyReused):
        ask(lending, key="request-0001", amount="120001")
    assert store.snapshot() == before


# ---------------------------------------------------------------- commitments
def test_a_commitment_moves_the_lenders_money_into_the_loans_escrow_pending(
    lending: LendingService, store: FakeLoanStore, tables: Tables
) -> None:
    # Given Asha's open request for ₹1,20,000
    loan_id = ask(lending).loan.id
    # When a lender commits ₹40,000
    outcome = commit(lending, loan_id, L1, "40000", key="commit-0001")
    # Then the money leaves her balance for the loan's escrow, and the receipt says PENDING
    receipt = outcome.receipt
    assert (receipt.status, receipt.amount, receipt.funded, receipt.loan_status) == ("PENDING", 4_000_000, 4_000_000, "OPEN")
    assert receipt.balance == tables.balance_of(L1.user_id) == LENDER_OPENING - 4_000_000
    loan = loan_of(store, loan_id)
    assert (loan.funded, loan.escrow, loan.lender_count) == (4_000_000, 4_000_000, 1)
    # And it is a PENDING LOAN_COMMITMENT in her history, counted against her caps
    assert receipt.reference_id == reference_for("commitment", L1.user_id, "commit-0001")
    [entry] = store.ledger(L1.user_id)
    assert (entry.kind, entry.direction, entry.status, entry.amount, entry.loan_id) == (
        "LOAN_COMMITMENT",
        "sent",
        "PENDING",
        4_000_000,
        loan_id,
    )
    assert store.attribute(L1.user_id, "lending_outstanding") == store.lent_to(L1.user_id, BORROWER.user_id) == 4_000_000


def test_a_borrower_cannot_fund_her_own_request(lending: LendingService, store: FakeLoanStore) -> None:
    loan_id = ask(lending).loan.id
    before = store.snapshot()
    with pytest.raises(OwnLoan):
        commit(lending, loan_id, BORROWER, "1000")
    assert store.snapshot() == before


@pytest.mark.parametrize(
    ("amount", "refusal"),
    [
        ("499.99", CommitmentBelowMinimum),
        ("120000.01", CommitmentAboveRemaining),
        ("119500.01", CommitmentLeavesTooLittle),
    ],
    ids=["below-500-rupees", "above-the-remainder", "leaves-less-than-500-rupees"],
)
def test_a_commitment_of_a_wrong_amount_is_refused_and_nothing_is_written(
    lending: LendingService, store: FakeLoanStore, amount: str, refusal: type[Exception]
) -> None:
    loan_id = ask(lending, amount="120000").loan.id
    before = store.snapshot()
    with pytest.raises(refusal):
        commit(lending, loan_id, L1, amount)
    assert store.snapshot() == before


def test_a_remainder_below_the_minimum_commitment_may_be_funded_whole(store: FakeLoanStore, clock: FakeClock) -> None:
    # Given a platform whose smallest loan (₹100) is below its smallest commitment (₹500), and a ₹300 request
    lending = LendingService(store=store, policy=replace(POLICY, min_request=10_000), clock=clock)
    loan_id = ask(lending, amount="300").loan.id
    # When a lender commits ₹299.99 of it, it is refused; when they commit the whole ₹300, it is funded
    with pytest.raises(CommitmentBelowMinimum):
        commit(lending, loan_id, L1, "299.99")
    receipt = commit(lending, loan_id, L1, "300").receipt
    assert (receipt.status, receipt.loan_status) == ("SUCCESS", "ACTIVE")


def test_the_last_lender_a_loan_may_have_must_fund_all_that_remains(store: FakeLoanStore, clock: FakeClock) -> None:
    # Given loans of at most three lenders, and a ₹1,00,000 request two lenders funded ₹30,000 each
    lending = LendingService(store=store, policy=with_caps(lenders_per_loan=3), clock=clock)
    loan_id = ask(lending, amount="100000").loan.id
    commit(lending, loan_id, L1, "30000")
    commit(lending, loan_id, L2, "30000")
    before = store.snapshot()
    # When a third offers ₹20,000 of the ₹40,000 left
    # Then it is refused: the request could otherwise never fill
    with pytest.raises(LoanLendersFull):
        commit(lending, loan_id, L3, "20000")
    assert store.snapshot() == before
    # And the whole ₹40,000 disburses the loan
    assert commit(lending, loan_id, L3, "40000").receipt.loan_status == "ACTIVE"


def test_a_commitment_that_leaves_a_remainder_no_allowed_lender_can_fund_is_refused(
    store: FakeLoanStore, clock: FakeClock
) -> None:
    # Given loans of at most three lenders, each lender at most ₹50,000 to one borrower, and a ₹1,20,000 request
    lending = LendingService(store=store, policy=with_caps(lenders_per_loan=3), clock=clock)
    loan_id = ask(lending, amount="120000").loan.id
    commit(lending, loan_id, L1, "20000")  # ₹1,00,000 left for two lenders: still fillable
    # When a second lender commits ₹500, leaving ₹99,500 for one last lender who may lend ₹50,000
    # Then it is refused, as the last-slot rule refuses what would leave a request that can never fill
    # (which problem it should be is the lead's call: either says why)
    with pytest.raises((LoanLendersFull, LendingCapExceeded)):
        commit(lending, loan_id, L2, "500")


def test_a_commitment_after_the_funding_deadline_is_refused_even_before_the_sweep(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock
) -> None:
    loan_id = ask(lending, funding_days=3).loan.id
    clock.advance(days=3)
    before = store.snapshot()
    with pytest.raises(LoanNotOpen):
        commit(lending, loan_id, L1, "40000")
    assert store.snapshot() == before


def test_a_lender_commits_to_a_request_once(lending: LendingService, store: FakeLoanStore) -> None:
    loan_id = ask(lending).loan.id
    commit(lending, loan_id, L1, "10000", key="commit-0001")
    before = store.snapshot()
    with pytest.raises(AlreadyCommitted):
        commit(lending, loan_id, L1, "10000", key="commit-0002")
    assert store.snapshot() == before


def test_a_commitment_above_the_lenders_balance_is_refused(lending: LendingService, store: FakeLoanStore, tables: Tables) -> None:
    # Given a lender with ₹300 left after spending
    loan_id = ask(lending).loan.id
    spend(tables, L1, LENDER_OPENING - 30_000, START)
    before = store.snapshot()
    with pytest.raises(InsufficientFunds):
        commit(lending, loan_id, L1, "500")
    assert store.snapshot() == before


def test_a_lender_may_not_lend_past_their_platform_cap(store: FakeLoanStore, clock: FakeClock) -> None:
    # Given a lender cap of ₹1,000 and a lender with ₹600 in Asha's request
    lending = LendingService(store=store, policy=with_caps(lender_total=100_000), clock=clock)
    commit(lending, ask(lending, borrower=BORROWER).loan.id, L1, "600")
    other = ask(lending, borrower=OTHER_BORROWER).loan.id
    before = store.snapshot()
    # When they commit ₹600 to Bala's
    with pytest.raises(LendingCapExceeded) as refused:
        commit(lending, other, L1, "600")
    # Then it is refused with the ₹400 left, and nothing is written
    assert (refused.value.cap, refused.value.remaining) == ("lender_total", 40_000)
    assert store.snapshot() == before
    # And another lender, below their own cap, may
    assert commit(lending, other, L2, "600").receipt.status == "PENDING"


def test_a_lender_may_not_lend_one_borrower_past_the_pair_cap_across_her_loans(
    lending: LendingService, store: FakeLoanStore
) -> None:
    # Given a lender with ₹30,000 in one of Asha's requests
    first = ask(lending, key="request-0001").loan.id
    commit(lending, first, L1, "30000")
    second = ask(lending, key="request-0002").loan.id
    before = store.snapshot()
    # When they commit ₹30,000 to her second request (₹50,000 is the most one lender may lend one borrower)
    with pytest.raises(LendingCapExceeded) as refused:
        commit(lending, second, L1, "30000")
    # Then it is refused with the ₹20,000 left, and nothing is written
    assert (refused.value.cap, refused.value.limit, refused.value.remaining) == ("lender_to_borrower", 5_000_000, 2_000_000)
    assert store.snapshot() == before
    # And ₹20,000 is within it, while the same lender may still lend Bala
    commit(lending, second, L1, "20000")
    commit(lending, ask(lending, borrower=OTHER_BORROWER).loan.id, L1, "30000")
    assert store.lent_to(L1.user_id, BORROWER.user_id) == 5_000_000


@pytest.mark.parametrize(
    ("caps", "amount", "cap", "limit"),
    [
        ({}, "50000.01", "lender_to_borrower", 5_000_000),
        ({"lender_total": 100_000}, "1000.01", "lender_total", 100_000),
    ],
    ids=["lender-to-borrower", "lender-total"],
)
def test_a_lenders_first_commitment_may_not_pass_a_cap_on_its_own(
    store: FakeLoanStore, clock: FakeClock, caps: dict[str, int], amount: str, cap: str, limit: int
) -> None:
    # Given a lender who has never lent (no outstanding counted yet), and Asha's ₹1,20,000 request
    lending = LendingService(store=store, policy=with_caps(**caps), clock=clock)
    loan_id = ask(lending).loan.id
    before = store.snapshot()
    # When they commit more than the cap in one go
    with pytest.raises(LendingCapExceeded) as refused:
        commit(lending, loan_id, L1, amount)
    # Then it is refused like any commitment past the cap, and nothing is written
    assert (refused.value.cap, refused.value.limit, refused.value.remaining) == (cap, limit, limit)
    assert store.snapshot() == before


def test_the_commitment_that_fills_a_request_disburses_it(lending: LendingService, store: FakeLoanStore, tables: Tables) -> None:
    # Given Asha's ₹1,20,000 request, two lenders in with ₹40,000 each
    loan_id = ask(lending).loan.id
    first = commit(lending, loan_id, L1, "40000").receipt
    second = commit(lending, loan_id, L2, "40000").receipt
    # When a third commits the ₹40,000 left
    receipt = commit(lending, loan_id, L3, "40000").receipt
    # Then the loan is disbursed: Asha has the ₹1,20,000, the escrow is empty, the loan ACTIVE
    assert (receipt.status, receipt.funded, receipt.loan_status) == ("SUCCESS", 12_000_000, "ACTIVE")
    assert tables.balance_of(BORROWER.user_id) == BORROWER_OPENING + 12_000_000
    loan = loan_of(store, loan_id)
    assert (loan.status, loan.escrow, loan.principal_outstanding, loan.lender_count) == ("ACTIVE", 0, 12_000_000, 3)
    assert loan.disbursed_at == START
    # And the schedule is fixed: the plan's installments, due monthly from today
    plan = installment_plan(12_000_000, 12, 1450)
    assert [(i.principal, i.interest, i.status) for i in loan.schedule] == [(p.principal, p.interest, "DUE") for p in plan]
    assert [i.due_on for i in loan.schedule] == due_dates(date(2026, 11, 24), 12)
    # And the earlier commitments are lent now: SUCCESS in the ledger and in their lenders' histories
    for earlier, lender in ((first, L1), (second, L2)):
        assert tables.transactions[earlier.reference_id].status == "SUCCESS"
        assert [e.status for e in store.ledger(lender.user_id)] == ["SUCCESS"]
    # And the disbursal is in Asha's history
    [disbursal] = store.ledger(BORROWER.user_id)
    assert (disbursal.kind, disbursal.direction, disbursal.amount, disbursal.status) == (
        "LOAN_DISBURSAL",
        "received",
        12_000_000,
        "SUCCESS",
    )
    # And the request is no longer open to lenders
    assert lending.open_requests(STRANGER.user_id, "newest", 10, None).results == []
    assert lending.open_requests(STRANGER.user_id, "rate", 10, None).results == []


def test_a_commitment_landing_between_the_read_and_the_write_makes_the_logic_decide_again(
    lending: LendingService, store: FakeLoanStore, tables: Tables
) -> None:
    # Given a request with ₹40,000 left
    loan_id = ask(lending).loan.id
    commit(lending, loan_id, L1, "40000")
    commit(lending, loan_id, L2, "40000")
    # When L3 commits those ₹40,000 but another lender's ₹20,000 lands between L3's read and write
    store.interleave["commit"] = lambda: commit(lending, loan_id, L4, "20000")
    # Then L3's transaction finds the loan changed, and L3 is told what is left now; nothing of theirs moved
    with pytest.raises(CommitmentAboveRemaining):
        commit(lending, loan_id, L3, "40000")
    assert tables.balance_of(L3.user_id) == LENDER_OPENING
    assert loan_of(store, loan_id).funded == 10_000_000


def test_a_commitment_that_read_an_older_remainder_cannot_fill_the_request_without_disbursing_it(
    lending: LendingService, store: FakeLoanStore, tables: Tables
) -> None:
    # Given ₹80,000 left of ₹1,20,000, and L4 filling ₹40,000 of it just before L3's ₹40,000 is written
    # (L3 read ₹80,000 left, so L3's is not the commitment that fills the request)
    loan_id = ask(lending).loan.id
    commit(lending, loan_id, L1, "40000")
    store.interleave["commit"] = lambda: commit(lending, loan_id, L4, "40000")
    # When L3's commitment is written
    receipt = commit(lending, loan_id, L3, "40000").receipt
    # Then it is refused as it was planned, read again, and becomes the one that fills and disburses the loan
    assert receipt.loan_status == "ACTIVE"
    loan = loan_of(store, loan_id)
    assert (loan.status, loan.funded, loan.escrow) == ("ACTIVE", 12_000_000, 0)
    assert tables.balance_of(BORROWER.user_id) == BORROWER_OPENING + 12_000_000


def test_a_cancel_landing_just_before_the_filling_commitment_wins_and_everyone_is_refunded(
    lending: LendingService, store: FakeLoanStore, tables: Tables
) -> None:
    # Given a request with ₹40,000 left, and Asha cancelling just as L3 commits them
    loan_id = ask(lending).loan.id
    commit(lending, loan_id, L1, "40000")
    commit(lending, loan_id, L2, "40000")
    store.interleave["commit"] = lambda: lending.cancel(BORROWER.user_id, loan_id)
    # When L3's commitment is written
    # Then it finds the request closed, nothing is disbursed, and every lender has their money
    with pytest.raises(LoanNotOpen):
        commit(lending, loan_id, L3, "40000")
    assert loan_of(store, loan_id).status == "CANCELLED"
    assert all(tables.balance_of(lender.user_id) == LENDER_OPENING for lender in (L1, L2, L3))
    assert tables.balance_of(BORROWER.user_id) == BORROWER_OPENING


CONFLICT_RETRIES = 5


def test_sixteen_lenders_racing_never_overfund_a_request(lending: LendingService, store: FakeLoanStore, tables: Tables) -> None:
    # Given a ₹1,00,000 request and sixteen lenders each committing ₹10,000 at once
    loan_id = ask(lending, amount="100000").loan.id
    outcomes: dict[str, str] = {}

    def race(lender: PartyRef) -> None:
        # A lender whose every attempt met a changed loan is told to retry with the same key
        # (409): as a client would, it does, a few times (the same key each time).
        for _ in range(CONFLICT_RETRIES):
            try:
                commit(lending, loan_id, lender, "10000")
                outcomes[lender.user_id] = "committed"
                return
            except ConcurrentUpdate:
                continue
            except (LoanNotOpen, CommitmentAboveRemaining, LoanChanged) as refused:
                outcomes[lender.user_id] = type(refused).__name__
                return

    threads = [threading.Thread(target=race, args=(lender,)) for lender in LENDERS[:16]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly ten got in, the loan is funded to the paisa and disbursed, the rest kept their money
    winners = [user for user, outcome in outcomes.items() if outcome == "committed"]
    assert len(outcomes) == 16
    assert len(winners) == 10
    loan = loan_of(store, loan_id)
    assert (loan.funded, loan.status, loan.lender_count) == (10_000_000, "ACTIVE", 10)
    assert all(tables.balance_of(lender.user_id) == LENDER_OPENING for lender in LENDERS[:16] if lender.user_id not in winners)


# ---------------------------------------------------------------- exactly once
def test_a_retried_commitment_returns_the_original_and_moves_the_money_once(
    lending: LendingService, store: FakeLoanStore
) -> None:
    loan_id = ask(lending).loan.id
    original = commit(lending, loan_id, L1, "40000", key="commit-0001")
    before = store.snapshot()
    retried = commit(lending, loan_id, L1, "40000", key="commit-0001")
    assert retried.replayed
    assert retried.receipt == original.receipt
    assert store.snapshot() == before


def test_a_retried_filling_commitment_returns_the_disbursal_and_moves_the_money_once(
    lending: LendingService, store: FakeLoanStore
) -> None:
    loan_id = ask(lending).loan.id
    commit(lending, loan_id, L1, "40000")
    commit(lending, loan_id, L2, "40000")
    original = commit(lending, loan_id, L3, "40000", key="commit-0003")
    before = store.snapshot()
    retried = commit(lending, loan_id, L3, "40000", key="commit-0003")
    assert retried.replayed
    assert retried.receipt == original.receipt
    assert (retried.receipt.status, retried.receipt.loan_status) == ("SUCCESS", "ACTIVE")
    assert store.snapshot() == before


def test_a_commitment_key_reused_with_another_amount_or_loan_is_refused(lending: LendingService, store: FakeLoanStore) -> None:
    first = ask(lending, key="request-0001").loan.id
    second = ask(lending, key="request-0002", borrower=OTHER_BORROWER).loan.id
    commit(lending, first, L1, "40000", key="commit-0001")
    before = store.snapshot()
    with pytest.raises(IdempotencyKeyReused):
        commit(lending, first, L1, "30000", key="commit-0001")
    with pytest.raises(IdempotencyKeyReused):
        commit(lending, second, L1, "40000", key="commit-0001")
    assert store.snapshot() == before


def test_a_retried_repayment_returns_the_original_and_moves_the_money_once(lending: LendingService, store: FakeLoanStore) -> None:
    loan_id = funded_loan(lending)
    original = repay(lending, loan_id, "repay-0001")
    before = store.snapshot()
    retried = repay(lending, loan_id, "repay-0001")
    assert retried.replayed
    assert retried.receipt == original.receipt
    assert retried.receipt.installments == [1]
    assert store.snapshot() == before


def test_a_retried_repayment_that_closed_the_loan_still_returns_the_original(
    lending: LendingService, store: FakeLoanStore
) -> None:
    loan_id = funded_loan(lending)
    original = repay(lending, loan_id, "repay-0001", prepay=True)
    before = store.snapshot()
    retried = repay(lending, loan_id, "repay-0001", prepay=True)
    assert retried.replayed
    assert retried.receipt == original.receipt
    assert store.snapshot() == before


def test_a_repayment_key_reused_for_a_prepayment_is_refused(lending: LendingService, store: FakeLoanStore) -> None:
    # Given the first installment paid with a key
    loan_id = funded_loan(lending)
    repay(lending, loan_id, "repay-0001")
    before = store.snapshot()
    # When the same key comes with another request: prepay the whole loan
    # Then it is refused (the borrower must not be told the loan is prepaid), and nothing is written
    with pytest.raises(IdempotencyKeyReused):
        repay(lending, loan_id, "repay-0001", prepay=True)
    assert store.snapshot() == before


# ---------------------------------------------------------------- cancel and expiry
def test_cancelling_a_request_refunds_every_lender_once(
    lending: LendingService, store: FakeLoanStore, tables: Tables, clock: FakeClock
) -> None:
    # Given Asha's request with two commitments in escrow
    loan_id = ask(lending).loan.id
    commitments = [commit(lending, loan_id, lender, "40000").receipt for lender in (L1, L2)]
    # When she cancels it an hour later
    clock.advance(hours=1)
    detail = lending.cancel(BORROWER.user_id, loan_id)
    # Then it is CANCELLED, each lender has their money back, and her reservation is released
    assert detail.status == "CANCELLED"
    assert tables.balance_of(L1.user_id) == tables.balance_of(L2.user_id) == LENDER_OPENING
    assert loan_of(store, loan_id).escrow == 0
    assert store.attribute(BORROWER.user_id, "borrowing_outstanding") == 0
    # And each lender's history has the commitment (REFUNDED) and its refund
    for receipt, lender in zip(commitments, (L1, L2), strict=True):
        assert tables.transactions[receipt.reference_id].status == "REFUNDED"
        assert [(e.kind, e.direction, e.status) for e in store.ledger(lender.user_id)] == [
            ("LOAN_COMMITMENT", "sent", "REFUNDED"),
            ("LOAN_REFUND", "received", "SUCCESS"),
        ]
        assert store.commitment_of(loan_id, lender.user_id).status == "REFUNDED"  # type: ignore[union-attr]
    # And it has left the sweeper's list
    assert store.closing_loans() == []
    # When she cancels again, nothing more moves
    before = store.snapshot()
    assert lending.cancel(BORROWER.user_id, loan_id).status == "CANCELLED"
    assert store.snapshot() == before


def test_only_the_borrower_may_cancel_and_only_before_the_loan_is_funded(lending: LendingService, store: FakeLoanStore) -> None:
    open_loan = ask(lending, key="request-0001").loan.id
    with pytest.raises(LoanNotCancellable):
        lending.cancel(STRANGER.user_id, open_loan)
    active = funded_loan(lending, key="request-0002", borrower=OTHER_BORROWER)
    before = store.snapshot()
    with pytest.raises(LoanNotCancellable):
        lending.cancel(OTHER_BORROWER.user_id, active)
    with pytest.raises(LoanNotFound):
        lending.cancel(STRANGER.user_id, active)
    assert store.snapshot() == before


def test_the_sweep_expires_a_request_past_its_deadline_and_refunds_it_once_however_often_it_runs(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock, tables: Tables
) -> None:
    # Given a request open for 3 days with two commitments
    loan_id = ask(lending, funding_days=3).loan.id
    commit(lending, loan_id, L1, "40000")
    commit(lending, loan_id, L2, "30000")
    # When the sweep runs before the deadline, nothing happens
    clock.advance(days=3, seconds=-1)
    assert lending.sweep().expired == 0
    # When it runs after the deadline
    clock.advance(seconds=1)
    report = lending.sweep()
    # Then the request is EXPIRED and both lenders have their money back
    assert (report.expired, report.refunded) == (1, 2)
    assert loan_of(store, loan_id).status == "EXPIRED"
    assert tables.balance_of(L1.user_id) == tables.balance_of(L2.user_id) == LENDER_OPENING
    assert store.attribute(BORROWER.user_id, "borrowing_outstanding") == 0
    # And when it runs again, nothing moves
    before = store.snapshot()
    assert lending.sweep().model_dump() == {"expired": 0, "refunded": 0, "collected": 0, "marked_overdue": 0, "defaulted": 0}
    assert store.snapshot() == before


def test_two_sweeps_at_once_refund_each_commitment_once(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock, tables: Tables
) -> None:
    loan_ids = [ask(lending, key=f"request-{n}", amount="100000", funding_days=1).loan.id for n in range(3)]
    for loan_id in loan_ids:
        for lender in LENDERS[:4]:
            commit(lending, loan_id, lender, "10000")
    clock.advance(days=2)
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(lending.sweep())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.expired for r in reports) == 3
    assert sum(r.refunded for r in reports) == 12
    assert all(tables.balance_of(lender.user_id) == LENDER_OPENING for lender in LENDERS)
    refunds = [t for t in tables.transactions.values() if t.kind == "LOAN_REFUND"]
    assert len(refunds) == 12


def test_a_refund_left_over_by_an_interrupted_sweep_is_finished_by_the_next(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock, tables: Tables
) -> None:
    # Given an expired request whose refunds were cut short after the first
    loan_id = ask(lending, funding_days=1).loan.id
    commit(lending, loan_id, L1, "40000")
    commit(lending, loan_id, L2, "40000")
    clock.advance(days=1)
    [loan] = store.open_past_deadline(clock.now)
    store.close_request(loan, "EXPIRED", clock.now)
    closing = loan_of(store, loan_id)
    first = store.commitments(loan_id)[0]
    refund = TransactionRecord(
        reference_id=reference_for("refund", first.reference_id),
        kind="LOAN_REFUND",
        status="SUCCESS",
        sender=PartyRef(user_id=f"LOAN#{loan_id}", email="loans@vaultpay.internal", full_name="Loan escrow"),
        receiver=first.lender,
        amount=first.amount,
        created_at=clock.now,
        loan_id=loan_id,
    )
    assert store.refund(closing, first, refund)
    assert not store.finish_refunds(loan_id)
    # When the sweep runs
    report = lending.sweep()
    # Then it refunds only what was left, and the request leaves the closing list
    assert (report.expired, report.refunded) == (0, 1)
    assert tables.balance_of(L1.user_id) == tables.balance_of(L2.user_id) == LENDER_OPENING
    assert store.closing_loans() == []


# ---------------------------------------------------------------- repayments and the sweep
def test_paying_the_next_installment_credits_every_lender_their_part(
    lending: LendingService, store: FakeLoanStore, tables: Tables, clock: FakeClock
) -> None:
    loan_id = funded_loan(lending)
    clock.advance(days=20)
    installment = loan_of(store, loan_id).schedule[0]
    receipt = repay(lending, loan_id, "repay-0001").receipt
    assert (receipt.installments, receipt.amount, receipt.loan_status) == ([1], installment.amount_due, "ACTIVE")
    assert (receipt.principal, receipt.interest, receipt.late_fee) == (installment.principal, installment.interest, 0)
    assert receipt.balance == tables.balance_of(BORROWER.user_id) == BORROWER_OPENING + 12_000_000 - installment.amount_due
    # Equal shares: the installment split three ways, to a paisa
    parts = [tables.balance_of(lender.user_id) - (LENDER_OPENING - 4_000_000) for lender in (L1, L2, L3)]
    assert sum(parts) == installment.amount_due
    assert max(parts) - min(parts) <= 1
    loan = loan_of(store, loan_id)
    assert (loan.schedule[0].status, loan.principal_outstanding) == ("PAID", 12_000_000 - installment.principal)
    assert [e.kind for e in store.ledger(L1.user_id)] == ["LOAN_COMMITMENT", "LOAN_REPAYMENT"]


def test_only_the_borrower_repays_and_only_an_active_loan(lending: LendingService, store: FakeLoanStore) -> None:
    open_loan = ask(lending, key="request-0001").loan.id
    with pytest.raises(LoanNotActive):
        repay(lending, open_loan, "repay-0001")
    active = funded_loan(lending, key="request-0002", borrower=OTHER_BORROWER)
    before = store.snapshot()
    for someone in (STRANGER, L1):
        with pytest.raises(LoanNotFound):
            repay(lending, active, "repay-0002", borrower=someone)
    assert store.snapshot() == before


def test_a_repayment_above_the_borrowers_balance_is_refused_and_nothing_is_written(
    lending: LendingService, store: FakeLoanStore, tables: Tables
) -> None:
    loan_id = funded_loan(lending)
    spend(tables, BORROWER, tables.balance_of(BORROWER.user_id) - 100, START)
    before = store.snapshot()
    with pytest.raises(InsufficientFunds):
        repay(lending, loan_id, "repay-0001")
    assert store.snapshot() == before


def test_the_sweep_collects_an_installment_on_its_due_day_once(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock, tables: Tables
) -> None:
    loan_id = funded_loan(lending)
    due = loan_of(store, loan_id).schedule[0]
    # The day before it is due, nothing is collected
    clock.now = ist(date(2026, 12, 23), hour=23)
    assert lending.sweep().collected == 0
    # On its due day, it is
    clock.now = ist(date(2026, 12, 24), hour=0)
    assert lending.sweep().collected == 1
    loan = loan_of(store, loan_id)
    assert loan.schedule[0].status == "PAID"
    assert tables.balance_of(BORROWER.user_id) == BORROWER_OPENING + 12_000_000 - due.amount_due
    [auto] = [t for t in tables.transactions.values() if t.kind == "LOAN_REPAYMENT"]
    assert auto.reference_id == reference_for("autodebit", loan_id, "1")
    assert auto.note == "Installment 1 of 12 (auto-debit)"
    # And the next run that day does nothing
    before = store.snapshot()
    clock.advance(hours=3)
    assert lending.sweep().collected == 0
    assert store.snapshot() == before


def test_an_installment_not_collected_on_its_due_day_is_overdue_the_next_with_a_late_fee_then_paid_by_hand(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock, tables: Tables
) -> None:
    # Given a loan whose borrower has spent everything by the first due day
    loan_id = funded_loan(lending)
    spend(tables, BORROWER, tables.balance_of(BORROWER.user_id), START)
    installment = loan_of(store, loan_id).schedule[0]
    # When the sweep runs on the due day: the installment stays DUE
    clock.now = ist(date(2026, 12, 24), hour=0)
    report = lending.sweep()
    assert (report.collected, report.marked_overdue) == (0, 0)
    assert loan_of(store, loan_id).schedule[0].status == "DUE"
    # When it runs the next day: OVERDUE, with a late fee of 2 % of it
    clock.now = ist(date(2026, 12, 25), hour=0)
    assert lending.sweep().marked_overdue == 1
    loan = loan_of(store, loan_id)
    overdue = loan.schedule[0]
    expected_fee = (installment.amount_due * 2 + 50) // 100
    assert (overdue.status, overdue.late_fee) == ("OVERDUE", expected_fee)
    assert (loan.status, loan.display_status) == ("ACTIVE", "OVERDUE")
    assert store.borrower_records([BORROWER.user_id])[BORROWER.user_id].late_installments == 1
    # When she pays it by hand once she has the money
    receipt = _top_up_and_repay(lending, tables, loan_id, installment.amount_due + expected_fee, clock.now)
    # Then she pays it with its fee, and the lenders share the fee too
    assert (receipt.installments, receipt.late_fee, receipt.amount) == ([1], expected_fee, installment.amount_due + expected_fee)
    loan = loan_of(store, loan_id)
    assert (loan.schedule[0].status, loan.late_fees_paid, loan.display_status) == ("PAID", expected_fee, "ACTIVE")
    # And the sweep waits for the next due day
    assert loan.next_attempt_at == ist(date(2027, 1, 24), hour=0)


def _top_up_and_repay(lending: LendingService, tables: Tables, loan_id: str, amount: int, at: datetime) -> Any:
    """The shop (holding what the borrower spent) pays her back ``amount``, and she pays the next installment."""
    wallet_transfer(tables, SHOP, BORROWER, amount, at)
    return repay(lending, loan_id, f"repay-{at.isoformat()}").receipt


def test_a_loan_overdue_for_more_than_ninety_days_defaults(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock, tables: Tables
) -> None:
    # Given a loan whose borrower never pays: the first installment was due on 24 December
    loan_id = funded_loan(lending)
    spend(tables, BORROWER, tables.balance_of(BORROWER.user_id), START)
    clock.now = ist(date(2026, 12, 25), hour=0)
    lending.sweep()
    # When the sweep runs 90 days after the due day, the loan is still only overdue
    clock.now = ist(date(2026, 12, 24) + timedelta(days=90), hour=0)
    assert lending.sweep().defaulted == 0
    assert loan_of(store, loan_id).status == "ACTIVE"
    # When it runs the next day, the loan is DEFAULTED, and the borrower's record says so
    clock.now = ist(date(2026, 12, 24) + timedelta(days=91), hour=0)
    assert lending.sweep().defaulted == 1
    loan = loan_of(store, loan_id)
    assert loan.status == "DEFAULTED"
    assert [i.status for i in loan.schedule[:4]] == ["OVERDUE"] * 4
    record = store.borrower_records([BORROWER.user_id])[BORROWER.user_id]
    assert (record.loans_defaulted, record.late_installments) == (1, 4)
    # And the sweep leaves it alone from then on
    before = store.snapshot()
    clock.advance(days=1)
    assert lending.sweep().model_dump()["defaulted"] == 0
    assert store.snapshot() == before


def test_prepaying_waives_future_interest_closes_the_loan_and_frees_everyones_caps(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock, tables: Tables
) -> None:
    # Given a loan with its first installment paid
    loan_id = funded_loan(lending)
    repay(lending, loan_id, "repay-0001")
    loan = loan_of(store, loan_id)
    # When Asha prepays it in the second month (before installment 2 is due)
    clock.now = ist(date(2027, 1, 10))
    receipt = repay(lending, loan_id, "repay-0002", prepay=True).receipt
    # Then she pays the principal left and the interest of the days lent this month (17 of 31), none
    # for the months after, and the loan is REPAID
    current = loan.schedule[1]
    days, elapsed = (current.due_on - loan.schedule[0].due_on).days, (date(2027, 1, 10) - loan.schedule[0].due_on).days
    assert (days, elapsed) == (31, 17)
    pro_rata = (2 * current.interest * elapsed + days) // (2 * days)
    assert receipt.installments == list(range(2, 13))
    assert (receipt.principal, receipt.interest, receipt.late_fee) == (loan.principal_outstanding, pro_rata, 0)
    assert receipt.amount == loan.principal_outstanding + pro_rata
    assert receipt.loan_status == "REPAID"
    closed = loan_of(store, loan_id)
    assert (closed.status, closed.principal_outstanding, closed.closed_at) == ("REPAID", 0, clock.now)
    assert closed.next_attempt_at is None
    # And her cap and the lenders' caps are free again; her record counts a repaid loan
    assert store.attribute(BORROWER.user_id, "borrowing_outstanding") == 0
    for lender in (L1, L2, L3):
        assert store.attribute(lender.user_id, "lending_outstanding") == 0
        assert store.lent_to(lender.user_id, BORROWER.user_id) == 0
    assert store.borrower_records([BORROWER.user_id])[BORROWER.user_id].loans_repaid == 1
    # And the sweep has nothing more to do with it
    assert store.due_loans(clock.now + timedelta(days=400), 10) == []


def test_a_whole_life_three_lenders_twelve_installments_by_hand_by_auto_debit_and_one_late(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock, tables: Tables
) -> None:
    # Given ₹1,20,000 from three lenders in unequal shares
    loan_id = ask(lending).loan.id
    shares = {L1.user_id: 5_000_000, L2.user_id: 4_500_000, L3.user_id: 2_500_000}
    for lender in (L1, L2, L3):
        commit(lending, loan_id, lender, f"{shares[lender.user_id] // 100}")
    schedule = loan_of(store, loan_id).schedule
    # When installments 1-3 are paid by hand, 4-8 auto-debited, 9 overdue and then paid by hand, 10-12 auto-debited
    for number in (1, 2, 3):
        clock.now = ist(schedule[number - 1].due_on - timedelta(days=2))
        repay(lending, loan_id, f"repay-{number}")
    for number in (4, 5, 6, 7, 8):
        clock.now = ist(schedule[number - 1].due_on, hour=0)
        assert lending.sweep().collected == 1
    kept = tables.balance_of(BORROWER.user_id)
    spend(tables, BORROWER, kept, clock.now)
    clock.now = ist(schedule[8].due_on, hour=0)
    lending.sweep()
    clock.now = ist(schedule[8].due_on + timedelta(days=1), hour=0)
    assert lending.sweep().marked_overdue == 1
    clock.now = ist(schedule[8].due_on + timedelta(days=3))
    late = loan_of(store, loan_id).schedule[8]
    _top_up_and_repay(lending, tables, loan_id, kept, clock.now)
    for number in (10, 11, 12):
        clock.now = ist(schedule[number - 1].due_on, hour=0)
        assert lending.sweep().collected == 1
    # Then the loan is REPAID, and every installment was paid
    loan = loan_of(store, loan_id)
    assert loan.status == "REPAID"
    assert all(i.status == "PAID" for i in loan.schedule)
    paid = sum(i.paid_amount for i in loan.schedule)
    assert paid == sum(p.amount for p in installment_plan(12_000_000, 12, 1450)) + late.late_fee
    assert loan.late_fees_paid == late.late_fee > 0
    # And each lender got their share of everything paid, within a paisa, and has their caps back
    for lender in (L1, L2, L3):
        received = tables.balance_of(lender.user_id) - (LENDER_OPENING - shares[lender.user_id])
        assert abs(received * 12_000_000 - paid * shares[lender.user_id]) < 12_000_000
        assert store.attribute(lender.user_id, "lending_outstanding") == 0
    record = store.borrower_records([BORROWER.user_id])[BORROWER.user_id]
    assert (record.loans_repaid, record.late_installments, record.loans_defaulted) == (1, 1, 0)


# ---------------------------------------------------------------- reads
def test_anyone_sees_an_open_request_but_only_its_borrower_and_lenders_see_the_loan(
    lending: LendingService, store: FakeLoanStore
) -> None:
    loan_id = ask(lending).loan.id
    # While it is open, a stranger sees it, with the schedule it would have and the borrower's e-mail masked
    seen = lending.detail(STRANGER.user_id, loan_id)
    assert (seen.status, seen.role, seen.my_share, len(seen.schedule)) == ("OPEN", None, None, 12)
    assert seen.borrower.email == "a***@example.com"
    for lender in (L1, L2, L3):
        commit(lending, loan_id, lender, "40000")
    # Once funded, a stranger is told there is no such loan
    with pytest.raises(LoanNotFound):
        lending.detail(STRANGER.user_id, loan_id)
    # But the borrower and the lenders see it, a lender with their share
    assert lending.detail(BORROWER.user_id, loan_id).role == "borrower"
    mine = lending.detail(L1.user_id, loan_id)
    assert mine.role == "lender"
    assert mine.my_share is not None
    assert mine.my_share.committed == 4_000_000
    total = sum(i.amount for i in mine.schedule)
    assert abs(mine.my_share.expected_total * 3 - total) < 3


def test_a_lenders_share_of_an_open_request_is_their_part_of_it_not_the_whole(lending: LendingService) -> None:
    # Given a ₹1,20,000 request to which L1 alone has committed ₹40,000 so far
    loan_id = ask(lending).loan.id
    commit(lending, loan_id, L1, "40000")
    # When L1 looks at it
    detail = lending.detail(L1.user_id, loan_id)
    # Then the share they are shown to expect is a third of what the schedule pays, not all of it
    assert detail.my_share is not None
    total = sum(i.amount for i in detail.schedule)
    assert abs(detail.my_share.expected_total * 3 - total) < 3


def test_a_loan_id_that_is_not_one_is_not_found(lending: LendingService) -> None:
    with pytest.raises(LoanNotFound):
        lending.detail(STRANGER.user_id, "not-a-loan")
    with pytest.raises(LoanNotFound):
        lending.detail(STRANGER.user_id, "00000000-0000-4000-8000-000000000000")


def test_the_open_listing_leaves_out_the_callers_own_and_lapsed_requests_and_pages_on(
    lending: LendingService, clock: FakeClock
) -> None:
    # Given Asha's two requests, then Bala's: one open for a day, one for a week, one for two weeks
    asha_first = ask(lending, key="request-0001", rate="12.00", tenure=24).loan.id
    clock.advance(minutes=1)
    asha_second = ask(lending, key="request-0002", rate="18.00", tenure=6, funding_days=1).loan.id
    clock.advance(minutes=1)
    bala = ask(lending, key="request-0003", borrower=OTHER_BORROWER, rate="15.00", tenure=12).loan.id
    # When Asha lists what is open, she sees only Bala's
    assert [v.id for v in lending.open_requests(BORROWER.user_id, "newest", 10, None).results] == [bala]
    # When a stranger lists them, newest first, one at a time
    first = lending.open_requests(STRANGER.user_id, "newest", 1, None)
    second = lending.open_requests(STRANGER.user_id, "newest", 1, first.next_cursor)
    third = lending.open_requests(STRANGER.user_id, "newest", 1, second.next_cursor)
    assert [page.results[0].id for page in (first, second, third)] == [bala, asha_second, asha_first]
    assert third.next_cursor is None
    # By rate (highest first) and by tenure (shortest first)
    assert [v.id for v in lending.open_requests(STRANGER.user_id, "rate", 10, None).results] == [asha_second, bala, asha_first]
    assert [v.id for v in lending.open_requests(STRANGER.user_id, "tenure", 10, None).results] == [asha_second, bala, asha_first]
    # Once Asha's second request has lapsed (not yet swept), nobody is offered it
    clock.advance(days=1)
    assert [v.id for v in lending.open_requests(STRANGER.user_id, "newest", 10, None).results] == [bala, asha_first]
    assert [v.id for v in lending.open_requests(STRANGER.user_id, "rate", 2, None).results] == [bala, asha_first]


def test_the_callers_loans_as_borrower_and_as_lender(lending: LendingService, clock: FakeClock) -> None:
    mine = ask(lending, key="request-0001").loan.id
    clock.advance(minutes=1)
    theirs = ask(lending, key="request-0002", borrower=OTHER_BORROWER).loan.id
    commit(lending, theirs, L1, "40000")
    clock.advance(minutes=1)
    commit(lending, mine, L1, "40000")
    assert [v.id for v in lending.my_loans(BORROWER.user_id, "borrower", 10, None).results] == [mine]
    page = lending.my_loans(L1.user_id, "lender", 1, None)
    rest = lending.my_loans(L1.user_id, "lender", 1, page.next_cursor)
    assert [v.id for v in page.results + rest.results] == [mine, theirs]
    assert all(v.role == "lender" for v in page.results + rest.results)


def test_a_cursor_from_another_listing_or_made_up_is_refused(lending: LendingService, clock: FakeClock) -> None:
    for n in range(3):
        ask(lending, key=f"request-{n}", amount="1000")
        clock.advance(minutes=1)
    newest = lending.open_requests(STRANGER.user_id, "newest", 1, None).next_cursor
    mine = lending.my_loans(BORROWER.user_id, "borrower", 1, None).next_cursor
    assert newest is not None
    assert mine is not None
    for listing in ("rate", "tenure"):
        with pytest.raises(InvalidCursor):
            lending.open_requests(STRANGER.user_id, listing, 1, newest)
    with pytest.raises(InvalidCursor):
        lending.my_loans(BORROWER.user_id, "lender", 1, mine)
    with pytest.raises(InvalidCursor):
        lending.open_requests(STRANGER.user_id, "newest", 1, mine)
    for made_up in ("not-a-cursor", encode_cursor("2026-11-24T10:00:00.000000Z#not-a-loan", "open:newest")):
        with pytest.raises(InvalidCursor):
            lending.open_requests(STRANGER.user_id, "newest", 1, made_up)


# ---------------------------------------------------------------- more of the sweep and the shares
def test_the_sweep_collects_every_installment_past_due_when_the_balance_allows(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock, tables: Tables
) -> None:
    # Given a borrower short for two due days, then topped up with enough for both and their fees
    loan_id = funded_loan(lending)
    kept = tables.balance_of(BORROWER.user_id)
    spend(tables, BORROWER, kept, START)
    schedule = loan_of(store, loan_id).schedule
    clock.now = ist(schedule[1].due_on + timedelta(days=1), hour=0)
    assert lending.sweep().marked_overdue == 2
    _give_back(tables, kept, clock.now)
    # When the sweep runs the next day
    clock.advance(days=1)
    report = lending.sweep()
    # Then it collects both, oldest first, each with its fee, and waits for the third
    assert report.collected == 2
    loan = loan_of(store, loan_id)
    assert [i.status for i in loan.schedule[:3]] == ["PAID", "PAID", "DUE"]
    assert all(i.paid_amount == i.principal + i.interest + i.late_fee and i.late_fee > 0 for i in loan.schedule[:2])
    assert loan.next_attempt_at == ist(schedule[2].due_on, hour=0)


def test_prepaying_with_an_overdue_installment_pays_it_with_its_fee_and_waives_only_future_interest(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock, tables: Tables
) -> None:
    # Given installment 1 overdue (with its fee), and installment 2 due today
    loan_id = funded_loan(lending)
    kept = tables.balance_of(BORROWER.user_id)
    spend(tables, BORROWER, kept, START)
    schedule = loan_of(store, loan_id).schedule
    clock.now = ist(schedule[0].due_on + timedelta(days=1), hour=0)
    lending.sweep()
    overdue = loan_of(store, loan_id).schedule[0]
    _give_back(tables, kept, clock.now)
    clock.now = ist(schedule[1].due_on, hour=9)
    # When the borrower prepays
    receipt = repay(lending, loan_id, "prepay-0001", prepay=True).receipt
    # Then the overdue installment is paid in full with its fee, today's with its interest, the rest without
    loan = loan_of(store, loan_id)
    assert receipt.late_fee == overdue.late_fee > 0
    assert receipt.interest == schedule[0].interest + schedule[1].interest
    assert receipt.principal == 12_000_000
    assert receipt.amount == 12_000_000 + receipt.interest + receipt.late_fee
    assert all(i.interest == 0 for i in loan.schedule[2:])
    assert loan.status == "REPAID"


def test_a_lenders_share_says_what_they_received_and_what_they_are_still_owed(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock, tables: Tables
) -> None:
    # Given a loan from lenders in unequal shares, two installments paid (one of them late, with its fee)
    loan_id = ask(lending).loan.id
    shares = {L1: "50000", L2: "45000", L3: "25000"}
    for lender, amount in shares.items():
        commit(lending, loan_id, lender, amount)
    repay(lending, loan_id, "repay-0001")
    kept = tables.balance_of(BORROWER.user_id)
    spend(tables, BORROWER, kept, clock.now)
    schedule = loan_of(store, loan_id).schedule
    clock.now = ist(schedule[1].due_on + timedelta(days=1), hour=0)
    lending.sweep()
    _top_up_and_repay(lending, tables, loan_id, kept, clock.now)
    # When each lender looks at the loan
    for lender, amount in shares.items():
        share = lending.detail(lender.user_id, loan_id).my_share
        assert share is not None
        # Then what they are shown to have received is what their balance did receive
        committed = int(amount) * 100
        assert share.received_total == tables.balance_of(lender.user_id) - (LENDER_OPENING - committed)
        assert [i.status for i in share.installments[:3]] == ["PAID", "PAID", "DUE"]
        # And what they are to expect in all is their share of the whole schedule (with the fee), to a paisa
        total = sum(i.amount for i in lending.detail(BORROWER.user_id, loan_id).schedule)
        assert abs(share.expected_total * 12_000_000 - total * committed) < 12_000_000


def test_an_installment_paid_early_by_hand_is_not_collected_again_on_its_due_day(
    lending: LendingService, store: FakeLoanStore, clock: FakeClock, tables: Tables
) -> None:
    loan_id = funded_loan(lending)
    clock.advance(days=5)
    repay(lending, loan_id, "repay-0001")
    balance = tables.balance_of(BORROWER.user_id)
    clock.now = ist(date(2026, 12, 24), hour=0)
    assert lending.sweep().collected == 0
    assert tables.balance_of(BORROWER.user_id) == balance
    assert loan_of(store, loan_id).schedule[1].status == "DUE"


def test_a_loan_with_the_most_lenders_allowed_is_disbursed_and_repaid_each_in_one_transaction(
    store: FakeLoanStore, clock: FakeClock, tables: Tables
) -> None:
    # Given loans of up to 44 lenders (the setting's largest: DynamoDB's 100 items per transaction)
    lending = LendingService(store=store, policy=with_caps(lenders_per_loan=44), clock=clock)
    loan_id = ask(lending, amount="440000").loan.id
    for lender in LENDERS[:44]:
        commit(lending, loan_id, lender, "10000")
    # Then the 44th commitment disbursed the loan, and a prepayment pays all 44 back in one transaction
    assert loan_of(store, loan_id).status == "ACTIVE"
    receipt = repay(lending, loan_id, "prepay-0001", prepay=True).receipt
    assert receipt.loan_status == "REPAID"
    [repayment] = [t for t in tables.transactions.values() if t.kind == "LOAN_REPAYMENT"]
    assert len(repayment.legs) == 44


def _give_back(tables: Tables, amount: int, at: datetime) -> None:
    """The shop pays the borrower ``amount`` back (what she spent), so she can pay again."""
    if amount == 0:
        return
    txn = TransactionRecord(
        reference_id=f"give-back-{at.isoformat()}-{amount}",
        kind="TRANSFER",
        status="SUCCESS",
        sender=SHOP,
        receiver=BORROWER,
        amount=amount,
        created_at=at,
    )
    tables.move(SHOP.user_id, -amount, txn)
    tables.move(BORROWER.user_id, amount, txn)
    tables.put_transaction(txn)
