"""Peer-to-peer lending on the wallet's ledger: requests, commitments through escrow, disbursal,
EMI schedules, repayments, and the scheduled sweep (expiry, refunds, auto-debit, overdue, default).

Every movement of money is one plan handed to the store and written as one DynamoDB transaction,
conditioned on what the logic read; the caps are conditions inside those same transactions. A
request retried with its Idempotency-Key derives the same reference, whose uniqueness guard in
the transaction answers it with the original; the sweeper's movements have references derived
from what they move (the commitment refunded, the installment collected), so two sweeps at once
move each thing once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from vaultpay.core.clock import IST
from vaultpay.core.cursor import decode_cursor as _decode_cursor
from vaultpay.core.cursor import encode_cursor
from vaultpay.core.errors import (
    AlreadyCommitted,
    CommitmentAboveRemaining,
    CommitmentBelowMinimum,
    CommitmentLeavesTooLittle,
    ConcurrentUpdate,
    DuplicateTransaction,
    IdempotencyKeyReused,
    InsufficientFunds,
    LendingCapExceeded,
    LoanChanged,
    LoanLendersFull,
    LoanNotActive,
    LoanNotCancellable,
    LoanNotFound,
    LoanNotOpen,
    LoanTermsInvalid,
    OwnLoan,
    UserNotFound,
)
from vaultpay.core.money import format_paise
from vaultpay.core.records import Leg, PartyRef, TransactionRecord
from vaultpay.lending.models import (
    BorrowerRecord,
    BorrowerView,
    CommitmentOutcome,
    CommitmentReceipt,
    CommitmentRecord,
    CommitmentRequest,
    Installment,
    InstallmentView,
    LenderShare,
    LendingRoom,
    LoanCreated,
    LoanDetail,
    LoanPage,
    LoanRecord,
    LoanRequest,
    LoanRole,
    LoanView,
    OpenLoanOrder,
    Quote,
    QuotedInstallment,
    RepaymentOutcome,
    RepaymentReceipt,
    RepaymentRequest,
    ShareInstallment,
    SweepReport,
)
from vaultpay.lending.ports import Caps, CommitmentPlan, Disbursal, LoanStore, OverduePlan, RepaymentPlan
from vaultpay.lending.schedule import BASIS_POINTS, due_dates, installment_plan, split_payment

# Fixed forever: loan ids and references already issued are derived from it.
LENDING_NAMESPACE = uuid.UUID("0b7f5a52-3c1d-4f7e-8a1b-5e6d2c9f4a31")
LOAN_ID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"
_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_POSITION_PATTERN = re.compile(rf"^([0-9]{{2,5}}#)?{_TIME}#{_ID}$")
_ATTEMPTS = 4  # reads and decisions again when the loan changed under a transaction
_COLLECT_ATTEMPTS = 40  # a loan's installments (at most 36) and a few changes under the sweep
PREPAYMENT_NOTE = "Prepayment: the loan repaid in full"  # also how a replay tells a prepayment from an installment


@dataclass(frozen=True)
class LendingPolicy:
    """The platform's rules, all settings (NBFC-P2P defaults in the settings model)."""

    caps: Caps
    min_request: int
    min_commitment: int
    max_tenure_months: int
    min_rate_bp: int
    max_rate_bp: int
    max_funding_days: int
    late_fee_bp: int
    default_after_days: int


def loan_id_for(borrower_id: str, idempotency_key: str) -> str:
    return str(uuid.uuid5(LENDING_NAMESPACE, f"loan\n{borrower_id}\n{idempotency_key}"))


def reference_for(purpose: str, *parts: str) -> str:
    return str(uuid.uuid5(LENDING_NAMESPACE, "\n".join((purpose, *parts))))


def escrow_party(loan_id: str, purpose: str = "escrow") -> PartyRef:
    """The loan as a party: its escrow (commitments, refunds, disbursal), or its lenders (repayments)."""
    name = "Loan escrow" if purpose == "escrow" else "Loan lenders"
    return PartyRef(user_id=f"LOAN#{loan_id}", email="loans@vaultpay.internal", full_name=name)


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def ist_day(moment: datetime) -> date:
    return moment.astimezone(IST).date()


def start_of_ist_day(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=IST).astimezone(UTC)


def decode_cursor(cursor: str, scope: str) -> str:
    return _decode_cursor(cursor, scope, _POSITION_PATTERN)


def late_fee(installment: Installment, late_fee_bp: int) -> int:
    """A one-time fee when an installment becomes overdue: a share of it, rounded half-up."""
    return (2 * (installment.principal + installment.interest) * late_fee_bp + BASIS_POINTS) // (2 * BASIS_POINTS)


def lender_parts(paid_before: int, amount: int, commitments: Sequence[CommitmentRecord]) -> list[int]:
    """A payment among the lenders by their commitments, in commitment order (``schedule.split_payment``)."""
    return split_payment(paid_before, amount, [commitment.amount for commitment in commitments])


def paid_so_far(schedule: Sequence[Installment]) -> int:
    return sum(installment.paid_amount for installment in schedule if installment.status == "PAID")


@dataclass(frozen=True)
class LendingService:
    store: LoanStore
    policy: LendingPolicy
    clock: Callable[[], datetime]

    # ------------------------------------------------------------ quote and request
    def check_terms(self, amount: int, tenure_months: int, annual_rate_bp: int) -> None:
        policy = self.policy
        if amount < policy.min_request:
            raise LoanTermsInvalid(f"The smallest loan is {format_paise(policy.min_request)}.")
        if not 1 <= tenure_months <= policy.max_tenure_months:
            raise LoanTermsInvalid(f"The tenure must be 1 to {policy.max_tenure_months} months.")
        if not policy.min_rate_bp <= annual_rate_bp <= policy.max_rate_bp:
            raise LoanTermsInvalid(
                f"The annual rate must be {format_paise(policy.min_rate_bp)}% to {format_paise(policy.max_rate_bp)}%."
            )

    def quote(self, amount: int, tenure_months: int, annual_rate_bp: int) -> Quote:
        """The schedule a loan with these terms would have if disbursed today."""
        self.check_terms(amount, tenure_months, annual_rate_bp)
        if amount > self.policy.caps.borrower_total:
            raise LoanTermsInvalid(f"No one may borrow more than {format_paise(self.policy.caps.borrower_total)}.")
        plan = installment_plan(amount, tenure_months, annual_rate_bp)
        dates = due_dates(ist_day(self.clock()), tenure_months)
        total_interest = sum(step.interest for step in plan)
        return Quote(
            amount=amount,
            tenure_months=tenure_months,
            annual_rate=annual_rate_bp,
            installment=plan[0].amount,
            total_interest=total_interest,
            total_payable=amount + total_interest,
            schedule=[
                QuotedInstallment(
                    number=step.number,
                    due_on=due,
                    principal=step.principal,
                    interest=step.interest,
                    amount=step.amount,
                    balance_after=step.balance_after,
                )
                for step, due in zip(plan, dates, strict=True)
            ],
        )

    def request_loan(self, borrower_id: str, idempotency_key: str, request: LoanRequest) -> LoanCreated:
        """A loan request, open to lenders until funded, cancelled or past its deadline. Its amount
        is reserved against the borrower's cap in the same transaction that writes it."""
        self.check_terms(request.amount, request.tenure_months, request.annual_rate)
        funding_days = request.funding_days or self.policy.max_funding_days
        if funding_days > self.policy.max_funding_days:
            raise LoanTermsInvalid(f"A request may be open to lenders for at most {self.policy.max_funding_days} days.")
        borrower = self.store.load_party(borrower_id)
        if borrower is None:
            raise UserNotFound()
        cap = self.policy.caps.borrower_total
        if request.amount > cap:
            # The store's condition has nothing to compare before a first request: refused here,
            # with the room the borrower really has.
            owed = self.store.exposure(borrower_id).borrowing
            raise LendingCapExceeded(
                "This would take what you owe and have asked for past the borrower's cap.",
                cap="borrower_total",
                limit=cap,
                remaining=cap - owed,
            )
        now = self.clock()
        loan = LoanRecord(
            loan_id=loan_id_for(borrower_id, idempotency_key),
            borrower=borrower,
            amount=request.amount,
            tenure_months=request.tenure_months,
            annual_rate_bp=request.annual_rate,
            purpose=request.purpose,
            funding_deadline=now + timedelta(days=funding_days),
            created_at=now,
        )
        try:
            self.store.create_loan(loan, self.policy.caps)
        except DuplicateTransaction:
            original = self.store.get_loan(loan.loan_id)
            if original is None:
                raise ConcurrentUpdate() from None
            same = (
                original.amount,
                original.tenure_months,
                original.annual_rate_bp,
                original.purpose,
                original.funding_deadline - original.created_at,
            ) == (loan.amount, loan.tenure_months, loan.annual_rate_bp, loan.purpose, timedelta(days=funding_days))
            if not same:
                raise IdempotencyKeyReused() from None
            return LoanCreated(loan=self._view(original, borrower_id), replayed=True)
        return LoanCreated(loan=self._view(loan, borrower_id))

    # ------------------------------------------------------------ funding
    def commit(self, lender_id: str, idempotency_key: str, loan_id: str, request: CommitmentRequest) -> CommitmentOutcome:
        """Money from the lender's balance into the loan's escrow, once per key; the commitment that
        fills the request also disburses it. Balance, remainder, deadline and every cap are
        conditions of the one transaction, so racing lenders can never overfund a request."""
        reference_id = reference_for("commitment", lender_id, idempotency_key)
        for _ in range(_ATTEMPTS):
            loan = self._loan(loan_id)
            now = self.clock()
            if loan.borrower.user_id == lender_id:
                raise OwnLoan()
            refusal = self._commitment_refusal(loan, lender_id, request.amount, now)
            if refusal is not None:
                replay = self._commitment_replay(reference_id, lender_id, loan_id, request)
                if replay is not None:
                    return replay
                raise refusal
            lender = self.store.load_party(lender_id)
            if lender is None:
                raise UserNotFound()
            fills = request.amount == loan.amount - loan.funded
            commitment = CommitmentRecord(
                loan_id=loan_id, lender=lender, amount=request.amount, reference_id=reference_id, created_at=now
            )
            txn = TransactionRecord(
                reference_id=reference_id,
                kind="LOAN_COMMITMENT",
                status="SUCCESS" if fills else "PENDING",
                sender=lender,
                receiver=escrow_party(loan_id),
                amount=request.amount,
                note=loan.purpose,
                created_at=now,
                loan_id=loan_id,
            )
            disbursal = None
            if fills:
                earlier = [c for c in self.store.commitments(loan_id) if c.status == "COMMITTED"]
                if len(earlier) != loan.lender_count or sum(c.amount for c in earlier) != loan.funded:
                    continue  # a commitment landed between the two reads
                disbursal = self._disbursal(loan, tuple(earlier), now)
            plan = CommitmentPlan(loan=loan, commitment=commitment, txn=txn, caps=self.policy.caps, now=now, disbursal=disbursal)
            try:
                self.store.commit(plan)
            except DuplicateTransaction:
                replay = self._commitment_replay(reference_id, lender_id, loan_id, request)
                if replay is None:
                    raise ConcurrentUpdate() from None
                return replay
            except LoanChanged:
                continue
            # What the transaction's conditions guarantee the loan became: no read needed.
            after = loan.model_copy(update={"funded": loan.funded + request.amount, "status": "ACTIVE" if disbursal else "OPEN"})
            return CommitmentOutcome(receipt=self._commitment_receipt(txn, after, lender_id))
        raise LoanChanged()

    def _commitment_refusal(self, loan: LoanRecord, lender_id: str, amount: int, now: datetime) -> Exception | None:
        if loan.status != "OPEN" or loan.funding_deadline <= now:
            return LoanNotOpen()
        if self.store.commitment_of(loan.loan_id, lender_id) is not None:
            return AlreadyCommitted()
        if loan.lender_count >= self.policy.caps.lenders_per_loan:
            return LoanLendersFull()
        remaining = loan.amount - loan.funded
        if amount > remaining:
            return CommitmentAboveRemaining(remaining)
        minimum = min(self.policy.min_commitment, remaining)
        if amount < minimum:
            return CommitmentBelowMinimum(minimum)
        if amount != remaining and remaining - amount < self.policy.min_commitment:
            # Every share is at least the minimum (or the whole request): what is left must be
            # something the next lender can commit.
            return CommitmentLeavesTooLittle(remaining, self.policy.min_commitment)
        caps = self.policy.caps
        left, places = remaining - amount, caps.lenders_per_loan - loan.lender_count - 1
        if left > places * caps.lender_to_borrower:
            # The lenders still allowed could never fund what would remain: the request would
            # only wait to expire. (With no place left, the last lender funds all that remains.)
            return LoanLendersFull(
                f"After this commitment {places} more lender(s) could join, at most "
                f"{format_paise(caps.lender_to_borrower)} each: too few for the {format_paise(left)} left. "
                "Commit more, or all that remains."
            )
        # The store checks a cap against what the lender has lent, and has nothing to compare
        # before their first commitment (to anyone, or to this borrower): one commitment alone
        # past a cap is refused here, with the room the lender really has.
        if amount > caps.lender_total or amount > caps.lender_to_borrower:
            exposure = self.store.exposure(lender_id, loan.borrower.user_id)
            if amount > caps.lender_total:
                return LendingCapExceeded(
                    "This would take what you have lent on the platform past the cap.",
                    cap="lender_total",
                    limit=caps.lender_total,
                    remaining=caps.lender_total - exposure.lent_total,
                )
            return LendingCapExceeded(
                "This would take what you have lent to this borrower past the cap.",
                cap="lender_to_borrower",
                limit=caps.lender_to_borrower,
                remaining=caps.lender_to_borrower - exposure.lent_to_borrower,
            )
        return None

    def _disbursal(self, loan: LoanRecord, earlier: tuple[CommitmentRecord, ...], now: datetime) -> Disbursal:
        schedule = self.schedule_for(loan, ist_day(now))
        txn = TransactionRecord(
            reference_id=reference_for("disbursal", loan.loan_id),
            kind="LOAN_DISBURSAL",
            status="SUCCESS",
            sender=escrow_party(loan.loan_id),
            receiver=loan.borrower,
            amount=loan.amount,
            note=loan.purpose,
            created_at=now,
            loan_id=loan.loan_id,
        )
        return Disbursal(txn=txn, schedule=schedule, earlier=earlier, next_attempt_at=start_of_ist_day(schedule[0].due_on))

    @staticmethod
    def schedule_for(loan: LoanRecord, disbursed_on: date) -> tuple[Installment, ...]:
        plan = installment_plan(loan.amount, loan.tenure_months, loan.annual_rate_bp)
        dates = due_dates(disbursed_on, loan.tenure_months)
        return tuple(
            Installment(number=step.number, due_on=due, principal=step.principal, interest=step.interest)
            for step, due in zip(plan, dates, strict=True)
        )

    def _commitment_replay(
        self, reference_id: str, lender_id: str, loan_id: str, request: CommitmentRequest
    ) -> CommitmentOutcome | None:
        original = self.store.get_transaction(reference_id)
        if original is None:
            return None
        if original.loan_id != loan_id or original.amount != request.amount:
            raise IdempotencyKeyReused()
        receipt = self._commitment_receipt(original, self._loan(loan_id), lender_id)
        return CommitmentOutcome(receipt=receipt, replayed=True)

    def _commitment_receipt(self, txn: TransactionRecord, loan: LoanRecord, lender_id: str) -> CommitmentReceipt:
        """The commitment and the loan as it stands (a replay: now, maybe disbursed since)."""
        balance = self.store.get_balance(lender_id)
        if balance is None:
            raise UserNotFound()
        return CommitmentReceipt(
            reference_id=txn.reference_id,
            loan_id=loan.loan_id,
            amount=txn.amount,
            status="REFUNDED" if txn.status == "REFUNDED" else ("SUCCESS" if txn.status == "SUCCESS" else "PENDING"),
            funded=loan.funded,
            loan_status=loan.status,
            balance=balance,
            created_at=txn.created_at,
        )

    # ------------------------------------------------------------ cancel, expiry, refunds
    def cancel(self, borrower_id: str, loan_id: str) -> LoanDetail:
        """The borrower withdraws a request not yet fully funded: every commitment goes back."""
        for _ in range(_ATTEMPTS):
            loan = self._visible_loan(loan_id, borrower_id)
            if loan.borrower.user_id != borrower_id:
                raise LoanNotCancellable()
            if loan.status == "CANCELLED":
                break  # cancelling twice is cancelling once
            if loan.status != "OPEN":
                raise LoanNotCancellable()
            try:
                self.store.close_request(loan, "CANCELLED", self.clock())
            except LoanChanged:
                continue
            break
        else:
            raise LoanChanged()
        self.refund_all(loan_id)
        return self.detail(borrower_id, loan_id)

    def refund_all(self, loan_id: str) -> int:
        """Every commitment still in escrow back to its lender, each in its own transaction and at
        most once (safe to run twice, or two at once); then the request leaves the sweeper's list."""
        refunded = 0
        now = self.clock()
        loan = self._loan(loan_id)
        for commitment in self.store.commitments(loan_id):
            if commitment.status != "COMMITTED":
                continue
            txn = TransactionRecord(
                reference_id=reference_for("refund", commitment.reference_id),
                kind="LOAN_REFUND",
                status="SUCCESS",
                sender=escrow_party(loan_id),
                receiver=commitment.lender,
                amount=commitment.amount,
                note="Loan request closed: commitment returned",
                created_at=now,
                loan_id=loan_id,
            )
            if self.store.refund(loan, commitment, txn):
                refunded += 1
        self.store.finish_refunds(loan_id)
        return refunded

    # ------------------------------------------------------------ repayment
    def repay(self, borrower_id: str, idempotency_key: str, loan_id: str, request: RepaymentRequest) -> RepaymentOutcome:
        """The next installment (or, with ``prepay``, everything outstanding), once per key: one
        transaction debits the borrower and credits every lender their part."""
        reference_id = reference_for("repayment", borrower_id, idempotency_key)
        for _ in range(_ATTEMPTS):
            loan = self._visible_loan(loan_id, borrower_id)
            if loan.borrower.user_id != borrower_id:
                raise LoanNotFound()
            if loan.status != "ACTIVE":
                replay = self._repayment_replay(reference_id, loan_id, request)
                if replay is not None:
                    return replay
                raise LoanNotActive()
            unpaid = loan.unpaid
            chosen = unpaid if request.prepay else unpaid[:1]
            plan = self._repayment_plan(loan, chosen, reference_id, prepay=request.prepay)
            try:
                self.store.repay(plan)
            except DuplicateTransaction:
                replay = self._repayment_replay(reference_id, loan_id, request)
                if replay is None:
                    raise ConcurrentUpdate() from None
                return replay
            except LoanChanged:
                continue
            return RepaymentOutcome(receipt=self._repayment_receipt(plan, borrower_id))
        raise LoanChanged()

    def _repayment_plan(
        self, loan: LoanRecord, chosen: Sequence[Installment], reference_id: str, *, prepay: bool, automatic: bool = False
    ) -> RepaymentPlan:
        now = self.clock()
        today = ist_day(now)
        commitments = [c for c in self.store.commitments(loan.loan_id) if c.status == "COMMITTED"]
        paid: list[Installment] = []
        for installment in chosen:
            interest = installment.interest
            if prepay and installment.status == "DUE" and installment.due_on > today:
                # Prepaying pays interest for the days lent: the current month's pro rata, none for
                # the months after it; no penalty.
                interest = self._interest_to(loan, installment, today)
            amount = installment.principal + interest + installment.late_fee
            paid.append(
                installment.model_copy(
                    update={
                        "status": "PAID",
                        "paid_amount": amount,
                        "paid_at": now,
                        "reference_id": reference_id,
                        "interest": interest,
                    }
                )
            )
        total = sum(installment.paid_amount for installment in paid)
        legs = lender_parts(paid_so_far(loan.schedule), total, commitments)
        numbers = [installment.number for installment in paid]
        remaining = [i for i in loan.unpaid if i.number not in numbers]
        if prepay:
            note = PREPAYMENT_NOTE
        elif automatic:
            note = f"Installment {numbers[0]} of {loan.tenure_months} (auto-debit)"
        else:
            note = f"Installment {numbers[0]} of {loan.tenure_months}"
        txn = TransactionRecord(
            reference_id=reference_id,
            kind="LOAN_REPAYMENT",
            status="SUCCESS",
            sender=loan.borrower,
            receiver=escrow_party(loan.loan_id, "lenders"),
            amount=total,
            note=note,
            created_at=now,
            loan_id=loan.loan_id,
            legs=tuple(Leg(party=c.lender, amount=leg) for c, leg in zip(commitments, legs, strict=True)),
        )
        return RepaymentPlan(
            loan=loan,
            txn=txn,
            paid=tuple(paid),
            principal=sum(i.principal for i in paid),
            interest=sum(i.interest for i in paid),
            late_fee=sum(i.late_fee for i in paid),
            closes=not remaining,
            released=tuple(commitments) if not remaining else (),
            next_attempt_at=self._next_attempt(remaining, today) if remaining else None,
            now=now,
        )

    @staticmethod
    def _interest_to(loan: LoanRecord, installment: Installment, today: date) -> int:
        """An installment's interest for the days of its period that have passed by ``today``,
        rounded half-up (nothing for a period not begun)."""
        index = installment.number - 1
        if index > 0:
            start = loan.schedule[index - 1].due_on
        elif loan.disbursed_at is not None:
            start = ist_day(loan.disbursed_at)
        else:
            start = today
        days = (installment.due_on - start).days
        elapsed = min(max((today - start).days, 0), days)
        return (2 * installment.interest * elapsed + days) // (2 * days) if days > 0 else 0

    @staticmethod
    def _next_attempt(unpaid: Sequence[Installment], today: date) -> datetime:
        """When the sweeper next tries to collect: the first unpaid installment's due day, or
        tomorrow when it is already past."""
        due = unpaid[0].due_on
        return start_of_ist_day(due if due > today else today + timedelta(days=1))

    def _repayment_replay(self, reference_id: str, loan_id: str, request: RepaymentRequest) -> RepaymentOutcome | None:
        original = self.store.get_transaction(reference_id)
        if original is None:
            return None
        if original.loan_id != loan_id or (original.note == PREPAYMENT_NOTE) != request.prepay:
            raise IdempotencyKeyReused()
        loan = self._loan(loan_id)
        paid = [i for i in loan.schedule if i.reference_id == reference_id]
        balance = self.store.get_balance(original.sender.user_id)
        receipt = RepaymentReceipt(
            reference_id=reference_id,
            loan_id=loan_id,
            amount=original.amount,
            installments=[i.number for i in paid],
            principal=sum(i.principal for i in paid),
            interest=sum(i.interest for i in paid),
            late_fee=sum(i.late_fee for i in paid),
            loan_status=loan.status,
            balance=balance or 0,
            created_at=original.created_at,
        )
        return RepaymentOutcome(receipt=receipt, replayed=True)

    def _repayment_receipt(self, plan: RepaymentPlan, borrower_id: str) -> RepaymentReceipt:
        balance = self.store.get_balance(borrower_id)
        if balance is None:
            raise UserNotFound()
        return RepaymentReceipt(
            reference_id=plan.txn.reference_id,
            loan_id=plan.loan.loan_id,
            amount=plan.txn.amount,
            installments=[i.number for i in plan.paid],
            principal=plan.principal,
            interest=plan.interest,
            late_fee=plan.late_fee,
            loan_status="REPAID" if plan.closes else "ACTIVE",
            balance=balance,
            created_at=plan.now,
        )

    # ------------------------------------------------------------ the scheduled sweep
    def sweep(self, *, batch: int = 1000) -> SweepReport:
        """Expire requests past their deadline and refund them, finish refunds left over, collect
        installments due, mark what cannot be collected OVERDUE, and default loans overdue too long.
        Every step is conditional: safe to run twice, or two at once."""
        report = SweepReport()
        now = self.clock()
        for loan in self.store.open_past_deadline(now):
            try:
                self.store.close_request(loan, "EXPIRED", now)
                report = report.model_copy(update={"expired": report.expired + 1})
            except LoanChanged:
                continue
        for loan in self.store.closing_loans():
            refunded = self.refund_all(loan.loan_id)
            report = report.model_copy(update={"refunded": report.refunded + refunded})
        for loan in self.store.due_loans(now, batch):
            report = self._collect(loan.loan_id, report)
        return report

    def _collect(self, loan_id: str, report: SweepReport) -> SweepReport:
        """Auto-debit what is due on this loan, oldest first; what cannot be collected is retried
        the next day, and becomes OVERDUE once its due day has passed."""
        for _ in range(_COLLECT_ATTEMPTS):
            loan = self.store.get_loan(loan_id)
            if loan is None or loan.status != "ACTIVE":
                return report
            now = self.clock()
            today = ist_day(now)
            due = [i for i in loan.unpaid if i.due_on <= today]
            if not due:
                try:
                    self.store.postpone(loan, self._next_attempt(loan.unpaid, today))
                except LoanChanged:
                    continue
                return report
            installment = due[0]
            reference_id = reference_for("autodebit", loan_id, str(installment.number))
            plan = self._repayment_plan(loan, [installment], reference_id, prepay=False, automatic=True)
            try:
                self.store.repay(plan)
                report = report.model_copy(update={"collected": report.collected + 1})
                continue  # the next installment may be due too
            except (DuplicateTransaction, LoanChanged):
                continue
            except InsufficientFunds:
                pass
            try:
                report = self._mark_overdue(loan, today, now, report)
            except LoanChanged:
                continue
            return report
        return report

    def _mark_overdue(self, loan: LoanRecord, today: date, now: datetime, report: SweepReport) -> SweepReport:
        overdue = tuple(
            i.model_copy(update={"status": "OVERDUE", "late_fee": late_fee(i, self.policy.late_fee_bp)})
            for i in loan.unpaid
            if i.status == "DUE" and i.due_on < today
        )
        oldest = loan.unpaid[0].due_on
        defaulted = (today - oldest).days > self.policy.default_after_days
        plan = OverduePlan(
            loan=loan,
            overdue=overdue,
            defaulted=defaulted,
            next_attempt_at=None if defaulted else start_of_ist_day(today + timedelta(days=1)),
            now=now,
        )
        self.store.mark_overdue(plan)
        return report.model_copy(
            update={
                "marked_overdue": report.marked_overdue + len(overdue),
                "defaulted": report.defaulted + (1 if defaulted else 0),
            }
        )

    # ------------------------------------------------------------ reads
    def open_requests(self, caller_id: str, order: OpenLoanOrder, limit: int, cursor: str | None) -> LoanPage:
        """Requests open to lenders, not the caller's own nor past their deadline, a page at a time."""
        scope = f"open:{order}"
        after = decode_cursor(cursor, scope) if cursor else None
        now = self.clock()
        found: list[LoanRecord] = []
        for _ in range(5):  # the caller's own and lapsed requests are skipped: read on to fill the page
            loans, after = self.store.open_loans(order, limit - len(found), after)
            found.extend(
                loan
                for loan in loans
                if loan.borrower.user_id != caller_id and loan.status == "OPEN" and loan.funding_deadline > now
            )
            if after is None or len(found) >= limit:
                break
        return self._page(found, caller_id, encode_cursor(after, scope) if after else None)

    def my_loans(self, caller_id: str, role: LoanRole, limit: int, cursor: str | None) -> LoanPage:
        scope = f"mine:{role}"
        after = decode_cursor(cursor, scope) if cursor else None
        loans, last = self.store.loans_of(caller_id, role, limit, after)
        return self._page(loans, caller_id, encode_cursor(last, scope) if last else None, role=role)

    def detail(self, caller_id: str, loan_id: str) -> LoanDetail:
        """A loan with its schedule: to anyone while it is open to lenders, afterwards to its
        borrower and lenders only (to anyone else it does not exist)."""
        loan = self._visible_loan(loan_id, caller_id)
        commitments = self.store.commitments(loan_id)
        mine = next((c for c in commitments if c.lender.user_id == caller_id), None)
        role: LoanRole | None = "borrower" if loan.borrower.user_id == caller_id else ("lender" if mine else None)
        record = self.store.borrower_records([loan.borrower.user_id]).get(loan.borrower.user_id, BorrowerRecord())
        schedule = loan.schedule or self.schedule_for(loan, ist_day(self.clock()))
        view = self._view(loan, caller_id, record, role=role)
        share = self._share(loan, schedule, commitments, mine) if mine is not None else None
        return LoanDetail(
            **dict(view),
            schedule=[self._installment_view(i) for i in schedule],
            my_share=share,
            my_room=self._room(caller_id, loan.borrower.user_id) if role != "borrower" else None,
            principal_repaid=loan.principal_repaid,
            interest_paid=loan.interest_paid,
        )

    def _room(self, lender_id: str, borrower_id: str) -> LendingRoom:
        """What the caps leave the caller to lend, from the counters the commitments' transactions
        keep (the same ones their conditions check): a figure to show, checked again on commit."""
        exposure = self.store.exposure(lender_id, borrower_id)
        in_total, to_borrower = exposure.lent_total, exposure.lent_to_borrower
        caps = self.policy.caps
        return LendingRoom(
            to_borrower=max(0, caps.lender_to_borrower - to_borrower), in_total=max(0, caps.lender_total - in_total)
        )

    def _share(
        self,
        loan: LoanRecord,
        schedule: Sequence[Installment],
        commitments: Sequence[CommitmentRecord],
        mine: CommitmentRecord,
    ) -> LenderShare:
        lent = [c for c in commitments if c.status == "COMMITTED"] if loan.status != "OPEN" else list(commitments)
        index = next((n for n, c in enumerate(lent) if c.lender.user_id == mine.lender.user_id), None)
        shares = [c.amount for c in lent]
        if loan.status == "OPEN" and loan.funded < loan.amount:
            # Not yet funded: the lenders still to come take their part of every installment too.
            shares.append(loan.amount - loan.funded)
        installments: list[ShareInstallment] = []
        if index is not None and loan.status not in ("CANCELLED", "EXPIRED"):
            running = 0
            for installment in sorted(schedule, key=lambda i: (i.status != "PAID", i.number)):
                paid = installment.status == "PAID"
                amount = installment.paid_amount if paid else installment.amount_due
                part = split_payment(running, amount, shares)[index] if amount else 0
                running += amount
                installments.append(
                    ShareInstallment(
                        number=installment.number, expected=part, received=part if paid else 0, status=installment.status
                    )
                )
        return LenderShare(
            committed=mine.amount,
            status=mine.status,
            expected_total=sum(i.expected for i in installments),
            received_total=sum(i.received for i in installments),
            installments=installments,
        )

    # ------------------------------------------------------------ helpers
    def _loan(self, loan_id: str) -> LoanRecord:
        loan = self.store.get_loan(loan_id) if LOAN_ID_PATTERN.fullmatch(loan_id) else None
        if loan is None:
            raise LoanNotFound()
        return loan

    def _visible_loan(self, loan_id: str, caller_id: str) -> LoanRecord:
        loan = self._loan(loan_id)
        if loan.status == "OPEN" or loan.borrower.user_id == caller_id:
            return loan
        if self.store.commitment_of(loan_id, caller_id) is None:
            raise LoanNotFound()
        return loan

    def _page(self, loans: list[LoanRecord], caller_id: str, cursor: str | None, role: LoanRole | None = None) -> LoanPage:
        records = self.store.borrower_records({loan.borrower.user_id for loan in loans})
        views = []
        for loan in loans:
            loan_role = role or ("borrower" if loan.borrower.user_id == caller_id else None)
            views.append(self._view(loan, caller_id, records.get(loan.borrower.user_id, BorrowerRecord()), role=loan_role))
        return LoanPage(results=views, next_cursor=cursor)

    def _view(
        self, loan: LoanRecord, caller_id: str, record: BorrowerRecord | None = None, *, role: LoanRole | None = None
    ) -> LoanView:
        if role is None and loan.borrower.user_id == caller_id:
            role = "borrower"
        unpaid = loan.unpaid if loan.status == "ACTIVE" else []
        return LoanView(
            id=loan.loan_id,
            status=loan.status,
            display_status=loan.display_status,
            amount=loan.amount,
            funded=loan.funded,
            remaining=loan.amount - loan.funded if loan.status == "OPEN" else 0,
            tenure_months=loan.tenure_months,
            annual_rate=loan.annual_rate_bp,
            purpose=loan.purpose,
            funding_deadline=loan.funding_deadline,
            created_at=loan.created_at,
            lenders=loan.lender_count,
            borrower=BorrowerView(
                full_name=loan.borrower.full_name, email=mask_email(loan.borrower.email), record=record or BorrowerRecord()
            ),
            role=role,
            disbursed_at=loan.disbursed_at,
            principal_outstanding=loan.principal_outstanding,
            next_installment=self._installment_view(unpaid[0]) if unpaid else None,
        )

    @staticmethod
    def _installment_view(installment: Installment) -> InstallmentView:
        return InstallmentView(
            number=installment.number,
            due_on=installment.due_on,
            principal=installment.principal,
            interest=installment.interest,
            late_fee=installment.late_fee,
            amount=installment.paid_amount if installment.status == "PAID" else installment.amount_due,
            status=installment.status,
            paid_amount=installment.paid_amount,
            paid_at=installment.paid_at,
        )
