"""The lending feature's ports: what its logic needs from the outside world, as Protocols, and
the plans it hands to them (every money movement is one plan, written as one transaction).

The DynamoDB adapter implements them in production; the unit tests use in-memory fakes."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from vaultpay.core.records import PartyRef, TransactionRecord
from vaultpay.lending.models import BorrowerRecord, CommitmentRecord, Installment, LoanRecord, LoanRole, OpenLoanOrder


@dataclass(frozen=True)
class Caps:
    """The NBFC-P2P caps, in paise, and how many lenders one loan may have."""

    lender_total: int
    borrower_total: int
    lender_to_borrower: int
    lenders_per_loan: int


@dataclass(frozen=True)
class Disbursal:
    """What the commitment that fills a request also does: escrow to the borrower, the schedule
    fixed, and the earlier commitments (exactly those) marked as lent."""

    txn: TransactionRecord
    schedule: tuple[Installment, ...]
    earlier: tuple[CommitmentRecord, ...]
    next_attempt_at: datetime


@dataclass(frozen=True)
class CommitmentPlan:
    loan: LoanRecord  # as read: the transaction is conditioned on it (open, room, deadline, lenders)
    commitment: CommitmentRecord
    txn: TransactionRecord
    caps: Caps
    now: datetime
    disbursal: Disbursal | None = None


@dataclass(frozen=True)
class RepaymentPlan:
    loan: LoanRecord  # as read: the transaction is conditioned on its version
    txn: TransactionRecord  # LOAN_REPAYMENT: the borrower pays, every lender gets its leg
    paid: tuple[Installment, ...]  # the installments as they become (PAID)
    principal: int
    interest: int
    late_fee: int
    closes: bool
    # When the loan closes, each lender's committed principal leaves their outstanding (the caps).
    released: tuple[CommitmentRecord, ...]
    next_attempt_at: datetime | None
    now: datetime


@dataclass(frozen=True)
class OverduePlan:
    loan: LoanRecord  # as read: conditioned on its version
    overdue: tuple[Installment, ...]  # the installments as they become (OVERDUE, late fee set)
    defaulted: bool
    next_attempt_at: datetime | None
    now: datetime


class LoanStore(Protocol):
    def load_party(self, user_id: str) -> PartyRef | None: ...
    def create_loan(self, loan: LoanRecord, caps: Caps) -> None:
        """The loan, and its amount reserved against the borrower's cap, at once. DuplicateTransaction
        when the loan id exists (a retry); LendingCapExceeded past the cap."""
        ...

    def get_loan(self, loan_id: str) -> LoanRecord | None: ...
    def get_loans(self, loan_ids: Collection[str]) -> dict[str, LoanRecord]: ...
    def commitments(self, loan_id: str) -> list[CommitmentRecord]:
        """The loan's commitments, in the order they were made."""
        ...

    def commit(self, plan: CommitmentPlan) -> None:
        """All or nothing. DuplicateTransaction: this commitment is already recorded; AlreadyCommitted:
        the lender has another; LoanChanged: the loan is not as read (read it again and decide);
        InsufficientFunds, LendingCapExceeded: the lender's balance or caps."""
        ...

    def close_request(self, loan: LoanRecord, status: Literal["CANCELLED", "EXPIRED"], now: datetime) -> None:
        """OPEN -> ``status`` and the borrower's reservation released; LoanChanged when it is no
        longer OPEN (or, to expire it, its deadline has not passed)."""
        ...

    def refund(self, loan: LoanRecord, commitment: CommitmentRecord, txn: TransactionRecord) -> bool:
        """One commitment back to its lender; False when it was already refunded (nothing written)."""
        ...

    def finish_refunds(self, loan_id: str) -> bool:
        """The closed request leaves the sweeper's list once its escrow is empty; False while it is not."""
        ...

    def repay(self, plan: RepaymentPlan) -> None:
        """DuplicateTransaction (already recorded), LoanChanged, InsufficientFunds."""
        ...

    def mark_overdue(self, plan: OverduePlan) -> None:
        """LoanChanged when the loan is not as read."""
        ...

    def postpone(self, loan: LoanRecord, next_attempt_at: datetime) -> None:
        """When the sweeper next looks at this loan (LoanChanged when it is not as read)."""
        ...

    def open_loans(self, order: OpenLoanOrder, limit: int, after: str | None) -> tuple[list[LoanRecord], str | None]: ...
    def loans_of(self, user_id: str, role: LoanRole, limit: int, after: str | None) -> tuple[list[LoanRecord], str | None]: ...
    def borrower_records(self, user_ids: Collection[str]) -> dict[str, BorrowerRecord]: ...
    def commitment_of(self, loan_id: str, lender_id: str) -> CommitmentRecord | None: ...
    def open_past_deadline(self, now: datetime) -> list[LoanRecord]: ...
    def closing_loans(self) -> list[LoanRecord]: ...
    def due_loans(self, now: datetime, limit: int) -> list[LoanRecord]: ...
    def get_transaction(self, reference_id: str) -> TransactionRecord | None: ...
    def get_balance(self, user_id: str) -> int | None: ...
    def lending_outstanding(self, lender_id: str, borrower_id: str) -> tuple[int, int]:
        """What the lender has outstanding (committed or lent, not yet repaid): on the platform in
        all, and with this borrower; the caps' own counters, 0 for none."""
        ...
