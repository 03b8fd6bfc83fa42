"""The in-memory ``LoanStore`` keeps the adapter's contract: the logic tests are only worth what it is.

Its methods match the port's parameter by parameter, and each write refuses what the adapter's
transaction would refuse, with the same error, writing nothing. The plans are the logic's own,
read again after someone else's write, so they are exactly what a racing request would send.
"""

from __future__ import annotations

import inspect
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.fakes import FakeClock, StoreRejected, Tables
from tests.unit.lending.fakes import FakeLoanStore
from vaultpay.core.errors import (
    AlreadyCommitted,
    DuplicateTransaction,
    InsufficientFunds,
    LendingCapExceeded,
    LoanChanged,
    UserNotFound,
)
from vaultpay.core.records import PartyRef, TransactionRecord
from vaultpay.lending.logic import LendingPolicy, LendingService, escrow_party, reference_for
from vaultpay.lending.models import CommitmentRecord, CommitmentRequest, LoanRecord, LoanRequest, RepaymentRequest
from vaultpay.lending.ports import Caps, CommitmentPlan, Disbursal, LoanStore, RepaymentPlan

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
BORROWER = PartyRef(user_id="00000001-0000-4000-8000-000000000000", email="asha@example.com", full_name="Asha")
L1 = PartyRef(user_id="00000101-0000-4000-8000-000000000000", email="l1@example.com", full_name="Lender 1")
L2 = PartyRef(user_id="00000102-0000-4000-8000-000000000000", email="l2@example.com", full_name="Lender 2")
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


def test_the_fake_has_the_ports_methods_with_the_same_parameters() -> None:
    methods = [name for name, member in vars(LoanStore).items() if inspect.isfunction(member) and not name.startswith("_")]
    assert "commit" in methods
    for name in methods:
        expected = [(p.name, p.kind) for p in inspect.signature(getattr(LoanStore, name)).parameters.values()]
        actual = [(p.name, p.kind) for p in inspect.signature(getattr(FakeLoanStore, name)).parameters.values()]
        assert actual == expected, name


@pytest.fixture
def tables() -> Tables:
    tables = Tables()
    tables.open_account(BORROWER, 1_000_000)
    tables.open_account(L1, 10_000_000)
    tables.open_account(L2, 10_000_000)
    return tables


@pytest.fixture
def store(tables: Tables) -> FakeLoanStore:
    return FakeLoanStore(tables)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def lending(store: FakeLoanStore, clock: FakeClock) -> LendingService:
    return LendingService(store=store, policy=POLICY, clock=clock)


@pytest.fixture
def loan(lending: LendingService, store: FakeLoanStore) -> LoanRecord:
    """Asha's open request for ₹1,00,000, as the logic reads it."""
    body = {"amount": "100000", "tenure_months": 12, "annual_rate": "14.50", "purpose": "Shop renovation"}
    loan_id = lending.request_loan(BORROWER.user_id, "request-0001", LoanRequest.model_validate(body)).loan.id
    found = store.get_loan(loan_id)
    assert found is not None
    return found


def commitment_plan(lender: PartyRef, loan: LoanRecord, amount: int, *, key: str = "key-1", caps: Caps = CAPS) -> CommitmentPlan:
    """The plan the logic sends for a commitment that does not fill the request."""
    reference_id = reference_for("commitment", lender.user_id, key)
    return CommitmentPlan(
        loan=loan,
        commitment=CommitmentRecord(
            loan_id=loan.loan_id, lender=lender, amount=amount, reference_id=reference_id, created_at=NOW
        ),
        txn=TransactionRecord(
            reference_id=reference_id,
            kind="LOAN_COMMITMENT",
            status="PENDING",
            sender=lender,
            receiver=escrow_party(loan.loan_id),
            amount=amount,
            created_at=NOW,
            loan_id=loan.loan_id,
        ),
        caps=caps,
        now=NOW,
    )


# ---------------------------------------------------------------- commitments
def test_a_retried_commitment_is_a_duplicate_even_when_the_lender_could_no_longer_afford_it(
    store: FakeLoanStore, tables: Tables, loan: LoanRecord
) -> None:
    # Given a commitment written, and the lender's balance since fallen below its amount
    plan = commitment_plan(L1, loan, 9_000_000)
    store.commit(plan)
    before = store.snapshot()
    # When the same plan is written again (its reference already there, the funds short, the commitment there)
    # Then the reference's guard answers first, as its precedence (0) in the adapter says, and nothing is written
    with pytest.raises(DuplicateTransaction):
        store.commit(plan)
    assert store.snapshot() == before


def test_a_second_commitment_of_one_lender_is_already_committed(store: FakeLoanStore, loan: LoanRecord) -> None:
    store.commit(commitment_plan(L1, loan, 1_000_000, key="key-1"))
    before = store.snapshot()
    with pytest.raises(AlreadyCommitted):
        store.commit(commitment_plan(L1, loan, 1_000_000, key="key-2"))
    assert store.snapshot() == before


def test_a_commitment_on_a_loan_read_with_more_room_than_it_has_now_is_a_changed_loan(
    store: FakeLoanStore, loan: LoanRecord
) -> None:
    # Given L2's ₹90,000 plan made while ₹1,00,000 were left, and L1's ₹40,000 written since
    stale = commitment_plan(L2, loan, 9_000_000, key="key-2")
    store.commit(commitment_plan(L1, loan, 4_000_000))
    before = store.snapshot()
    # Then L2's plan no longer fits: the loan changed, and nothing is written
    with pytest.raises(LoanChanged):
        store.commit(stale)
    assert store.snapshot() == before


@pytest.mark.parametrize("change", ["past-deadline", "lenders-full"])
def test_a_commitment_past_the_deadline_or_the_lenders_allowed_is_a_changed_loan(
    store: FakeLoanStore, loan: LoanRecord, change: str
) -> None:
    plan = commitment_plan(L1, loan, 1_000_000)
    if change == "past-deadline":
        plan = replace(plan, now=loan.funding_deadline)
    else:
        plan = replace(plan, caps=replace(CAPS, lenders_per_loan=0))
    before = store.snapshot()
    with pytest.raises(LoanChanged):
        store.commit(plan)
    assert store.snapshot() == before


def test_a_commitment_to_a_request_closed_since_it_was_read_is_a_changed_loan(store: FakeLoanStore, loan: LoanRecord) -> None:
    store.close_request(loan, "CANCELLED", NOW)
    before = store.snapshot()
    with pytest.raises(LoanChanged):
        store.commit(commitment_plan(L1, loan, 1_000_000))
    assert store.snapshot() == before


@pytest.mark.parametrize(
    ("caps", "balance", "refusal", "cap"),
    [
        (CAPS, 999_999, InsufficientFunds, None),
        (replace(CAPS, lender_total=1_000_000), 10_000_000, LendingCapExceeded, "lender_total"),
        (replace(CAPS, lender_to_borrower=1_000_000), 10_000_000, LendingCapExceeded, "lender_to_borrower"),
    ],
    ids=["balance", "lender-total", "lender-to-borrower"],
)
def test_a_lender_short_of_funds_or_cap_room_is_refused_by_the_same_transaction(
    store: FakeLoanStore, tables: Tables, loan: LoanRecord, caps: Caps, balance: int, refusal: type[Exception], cap: str | None
) -> None:
    # Given a lender who has lent Asha a paisa before (the counters the caps are checked against exist)
    store.attributes[L1.user_id] = {"lending_outstanding": 1, f"lent_to_{BORROWER.user_id}": 1}
    account = tables.accounts[L1.user_id]
    tables.accounts[L1.user_id] = replace(account, record=account.record.model_copy(update={"balance": balance}))
    before = store.snapshot()
    with pytest.raises(refusal) as refused:
        store.commit(commitment_plan(L1, loan, 1_000_000, caps=caps))
    assert getattr(refused.value, "cap", None) == cap
    assert store.snapshot() == before


def test_a_commitment_from_someone_without_an_account_is_user_not_found(store: FakeLoanStore, loan: LoanRecord) -> None:
    ghost = PartyRef(user_id="00000999-0000-4000-8000-000000000000", email="ghost@example.com", full_name="Ghost")
    with pytest.raises(UserNotFound):
        store.commit(commitment_plan(ghost, loan, 1_000_000))


# ---------------------------------------------------------------- closing and refunds
def test_a_request_expires_only_once_its_deadline_has_passed(store: FakeLoanStore, loan: LoanRecord) -> None:
    before = store.snapshot()
    with pytest.raises(LoanChanged):
        store.close_request(loan, "EXPIRED", loan.funding_deadline - timedelta(microseconds=1))
    assert store.snapshot() == before
    store.close_request(loan, "EXPIRED", loan.funding_deadline)
    with pytest.raises(LoanChanged):
        store.close_request(loan, "CANCELLED", loan.funding_deadline)


def test_a_commitment_is_refunded_once_and_only_from_a_closed_request(
    store: FakeLoanStore, tables: Tables, loan: LoanRecord, lending: LendingService
) -> None:
    lending.commit(L1.user_id, "key-1", loan.loan_id, CommitmentRequest.model_validate({"amount": "40000"}))
    [commitment] = store.commitments(loan.loan_id)
    refund = TransactionRecord(
        reference_id=reference_for("refund", commitment.reference_id),
        kind="LOAN_REFUND",
        status="SUCCESS",
        sender=escrow_party(loan.loan_id),
        receiver=L1,
        amount=commitment.amount,
        created_at=NOW,
        loan_id=loan.loan_id,
    )
    # While the request is open, no refund
    with pytest.raises(LoanChanged):
        store.refund(loan, commitment, refund)
    assert not store.finish_refunds(loan.loan_id)
    # Once closed, one refund; the second changes nothing
    store.close_request(loan, "CANCELLED", NOW)
    assert store.refund(loan, commitment, refund)
    before = store.snapshot()
    assert not store.refund(loan, commitment, refund)
    assert store.snapshot() == before
    assert tables.balance_of(L1.user_id) == 10_000_000
    assert store.finish_refunds(loan.loan_id)
    assert store.closing_loans() == []


# ---------------------------------------------------------------- repayments
def test_a_repayment_planned_on_an_older_version_of_the_loan_is_a_changed_loan(
    store: FakeLoanStore, tables: Tables, lending: LendingService, loan: LoanRecord, clock: FakeClock
) -> None:
    # Given a disbursed loan whose first installment was paid, and the plan that paid it
    for lender, amount in ((L1, "50000"), (L2, "50000")):
        lending.commit(lender.user_id, "key-1", loan.loan_id, CommitmentRequest.model_validate({"amount": amount}))
    plans: list[RepaymentPlan] = []

    class Recording(FakeLoanStore):
        def repay(self, plan: RepaymentPlan) -> None:
            plans.append(plan)
            super().repay(plan)

    shared = Recording(
        tables,
        loans=store.loans,
        gsi2=store.gsi2,
        open_index=store.open_index,
        commitment_items=store.commitment_items,
        attributes=store.attributes,
    )
    LendingService(store=shared, policy=POLICY, clock=clock).repay(BORROWER.user_id, "repay-1", loan.loan_id, RepaymentRequest())
    [paid] = plans
    before = store.snapshot()
    # When a plan made from the same read (the same installment, another reference) is written
    stale = replace(paid, txn=paid.txn.model_copy(update={"reference_id": reference_for("repayment", "someone", "else")}))
    # Then the loan is not as it was read, and nothing is written
    with pytest.raises(LoanChanged):
        store.repay(stale)
    assert store.snapshot() == before


def test_a_transaction_of_more_than_a_hundred_items_is_refused(store: FakeLoanStore, loan: LoanRecord) -> None:
    # Given a commitment plan that would also turn 46 earlier commitments to SUCCESS (10 + 2 * 46 items)
    earlier = tuple(
        CommitmentRecord(
            loan_id=loan.loan_id,
            lender=PartyRef(user_id=f"lender-{n}", email=f"l{n}@example.com", full_name=f"L{n}"),
            amount=1,
            reference_id=f"ref-{n}",
            created_at=NOW,
        )
        for n in range(46)
    )
    disbursal = Disbursal(
        txn=TransactionRecord(
            reference_id="disbursal",
            kind="LOAN_DISBURSAL",
            status="SUCCESS",
            sender=escrow_party(loan.loan_id),
            receiver=BORROWER,
            amount=loan.amount,
            created_at=NOW,
            loan_id=loan.loan_id,
        ),
        schedule=(),
        earlier=earlier,
        next_attempt_at=NOW,
    )
    with pytest.raises(StoreRejected, match="100"):
        store.commit(replace(commitment_plan(L1, loan, 1_000_000), disbursal=disbursal))
