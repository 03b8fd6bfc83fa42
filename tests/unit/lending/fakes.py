"""An in-memory ``LoanStore`` that keeps the contract of ``vaultpay.lending.dynamo.DynamoLoanRepository``.

Every write is the adapter's TransactWriteItems, condition by condition, all or nothing: every
condition is checked before anything changes, and when several fail the domain error of the item
with the lowest precedence (as the adapter declares it, ties to the earlier item) wins. A condition
the adapter gives no domain meaning (an update of an attribute that is not there, a commitment's
transaction that is no longer PENDING) raises ``StoreRejected``, as a ClientError would stand there.

The store shares ``Tables`` with the wallet's fake (accounts, transactions, ledgers): a loan's money
moves the same balances and writes the same ledger entries (``records.ledger_sides``) as a transfer.
What the adapter keeps on the account item for lending (``lending_outstanding``, ``lent_to_<borrower>``,
``borrowing_outstanding`` and the borrower's record) is ``attributes``, by the adapter's names.
GSI2 (the open, active and closing loans) and the open-request indexes by rate and tenure are kept as
the adapter writes them, so what a query finds is what the items say, not what the status suggests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from tests.unit.fakes import StoreRejected, Tables, ledger_position, stored_time
from vaultpay.core.errors import (
    AlreadyCommitted,
    DomainError,
    DuplicateTransaction,
    InsufficientFunds,
    LendingCapExceeded,
    LoanChanged,
    UserNotFound,
)
from vaultpay.core.records import LedgerEntry, PartyRef, TransactionRecord, ledger_sides
from vaultpay.lending.models import BorrowerRecord, CommitmentRecord, Installment, LoanRecord, LoanRole, OpenLoanOrder
from vaultpay.lending.ports import Caps, CommitmentPlan, Exposure, LoanStore, OverduePlan, RepaymentPlan

Partition = Literal["OPEN", "ACTIVE", "CLOSING"]
_CLOSED = ("CANCELLED", "EXPIRED")


def iso(moment: datetime) -> str:
    """A timestamp as the adapter writes it (``core.dynamo.iso``): sortable UTC with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def position(moment: datetime, loan_id: str) -> str:
    return f"{iso(moment)}#{loan_id}"


def pair_attribute(borrower_id: str) -> str:
    return f"lent_to_{borrower_id}"


def open_index_positions(loan: LoanRecord) -> dict[OpenLoanOrder, str]:
    """The sort keys of a request's two open-index items (``core.table.open_index_key``)."""
    created = iso(loan.created_at)
    return {
        "rate": f"{99999 - loan.annual_rate_bp:05d}#{created}#{loan.loan_id}",
        "tenure": f"{loan.tenure_months:02d}#{created}#{loan.loan_id}",
    }


class _Transaction:
    """The conditions of one TransactWriteItems, in item order: the first failure by precedence wins."""

    def __init__(self) -> None:
        self._failures: list[tuple[int, int, DomainError | None]] = []
        self._items = 0
        self._touched: set[tuple[str, str]] = set()

    def item(self, kind: str, key: str, holds: bool, error: DomainError | None = None, precedence: int = 0) -> None:
        """One item, ``holds`` its condition; ``error`` is what its failure means (None: no domain meaning)."""
        if (kind, key) in self._touched:
            raise StoreRejected(f"two operations on one item in a transaction: {kind} {key}")
        self._touched.add((kind, key))
        if not holds:
            self._failures.append((precedence if error is not None else 1_000, self._items, error))
        self._items += 1

    def check(self) -> None:
        if self._items > 100:
            raise StoreRejected(f"a transaction of {self._items} items (DynamoDB allows 100)")
        if not self._failures:
            return
        _, index, error = min(self._failures, key=lambda failure: (failure[0], failure[1]))
        if error is None:
            raise StoreRejected(f"item {index}: a condition without a domain meaning failed")
        raise error


@dataclass
class FakeLoanStore:
    tables: Tables
    loans: dict[str, LoanRecord] = field(default_factory=dict)
    gsi2: dict[str, tuple[Partition, str]] = field(default_factory=dict)  # loan id -> (partition, sort key)
    open_index: dict[OpenLoanOrder, dict[str, str]] = field(default_factory=lambda: {"rate": {}, "tenure": {}})
    commitment_items: dict[tuple[str, str], CommitmentRecord] = field(default_factory=dict)  # (loan, lender)
    attributes: dict[str, dict[str, int]] = field(default_factory=dict)  # user id -> the account's lending attributes
    transactions_written: int = 0
    # What another writer does just before the next write of a kind ("commit", "repay", ...), once:
    # a race made deterministic (the logic read the loan, then someone else's transaction landed).
    interleave: dict[str, Callable[[], object]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # ------------------------------------------------------------ what tests look at
    def snapshot(self) -> dict[str, object]:
        """Everything stored: equal snapshots mean nothing was written."""
        return {
            **self.tables.snapshot(),
            "loans": dict(self.loans),
            "gsi2": dict(self.gsi2),
            "open_index": {order: dict(items) for order, items in self.open_index.items()},
            "commitments": dict(self.commitment_items),
            "attributes": {user: dict(values) for user, values in self.attributes.items()},
        }

    def money(self) -> int:
        """Every balance and every loan's escrow: no lending operation creates or destroys money."""
        return sum(account.record.balance for account in self.tables.accounts.values()) + sum(
            loan.escrow for loan in self.loans.values()
        )

    def attribute(self, user_id: str, name: str) -> int | None:
        return self.attributes.get(user_id, {}).get(name)

    def lent_to(self, lender_id: str, borrower_id: str) -> int | None:
        return self.attribute(lender_id, pair_attribute(borrower_id))

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        """A user's ledger entries, oldest first."""
        return [entry for _, entry in sorted(self.tables.ledgers.get(user_id, {}).items())]

    # ------------------------------------------------------------ writes shared below
    def _put_transaction(self, txn: TransactionRecord) -> None:
        """The transaction and its ledger entries (``core.table.ledger_items``)."""
        txn = txn.model_copy(update={"created_at": stored_time(txn.created_at)})
        self.tables.transactions[txn.reference_id] = txn
        for owner, direction, amount in ledger_sides(txn):
            self.tables.ledgers.setdefault(owner.user_id, {})[ledger_position(txn.created_at, txn.reference_id)] = LedgerEntry(
                reference_id=txn.reference_id,
                direction=direction,
                counterparty=txn.receiver if direction == "sent" else txn.sender,
                amount=amount,
                status=txn.status,
                note=txn.note,
                created_at=txn.created_at,
                kind=txn.kind,
                loan_id=txn.loan_id,
            )

    def _set_commitment_status(self, commitment: CommitmentRecord, status: Literal["SUCCESS", "REFUNDED"]) -> None:
        """``_commitment_status``: its transaction (conditioned on PENDING) and its lender's ledger entry."""
        txn = self.tables.transactions[commitment.reference_id]
        self.tables.transactions[commitment.reference_id] = txn.model_copy(update={"status": status})
        entries = self.tables.ledgers.get(commitment.lender.user_id, {})
        where = ledger_position(commitment.created_at, commitment.reference_id)
        if where in entries:
            entries[where] = entries[where].model_copy(update={"status": status})

    def _commitment_pending(self, commitment: CommitmentRecord) -> bool:
        txn = self.tables.transactions.get(commitment.reference_id)
        return txn is not None and txn.status == "PENDING"

    def _add(self, user_id: str, name: str, delta: int, *, if_not_exists: bool) -> None:
        values = self.attributes.setdefault(user_id, {})
        if name not in values and not if_not_exists:
            raise StoreRejected(f"{name} of {user_id} is not there to change")
        values[name] = values.get(name, 0) + delta

    def _can_subtract(self, user_id: str, *names: str) -> bool:
        """SET x = x - :n needs x: DynamoDB refuses the whole transaction when it is not there."""
        return all(name in self.attributes.get(user_id, {}) for name in names)

    def _written(self) -> None:
        self.transactions_written += 1

    def _race(self, write: str) -> None:
        another = self.interleave.pop(write, None)
        if another is not None:
            another()

    # ------------------------------------------------------------ reads
    def load_party(self, user_id: str) -> PartyRef | None:
        account = self.tables.accounts.get(user_id)
        return None if account is None else account.record.party

    def get_loan(self, loan_id: str) -> LoanRecord | None:
        return self.loans.get(loan_id)

    def get_loans(self, loan_ids: Collection[str]) -> dict[str, LoanRecord]:
        return {loan_id: self.loans[loan_id] for loan_id in set(loan_ids) if loan_id in self.loans}

    def commitments(self, loan_id: str) -> list[CommitmentRecord]:
        with self.lock:
            found = [c for (loan, _), c in self.commitment_items.items() if loan == loan_id]
        return sorted(found, key=lambda c: (c.created_at, c.lender.user_id))

    def commitment_of(self, loan_id: str, lender_id: str) -> CommitmentRecord | None:
        return self.commitment_items.get((loan_id, lender_id))

    def get_transaction(self, reference_id: str) -> TransactionRecord | None:
        return self.tables.transactions.get(reference_id)

    def get_balance(self, user_id: str) -> int | None:
        account = self.tables.accounts.get(user_id)
        return None if account is None else account.record.balance

    def exposure(self, user_id: str, borrower_id: str | None = None) -> Exposure:
        return Exposure(
            lent_total=self.attribute(user_id, "lending_outstanding") or 0,
            lent_to_borrower=(self.lent_to(user_id, borrower_id) or 0) if borrower_id is not None else 0,
            borrowing=self.attribute(user_id, "borrowing_outstanding") or 0,
        )

    def borrower_records(self, user_ids: Collection[str]) -> dict[str, BorrowerRecord]:
        found: dict[str, BorrowerRecord] = {}
        for user_id in set(user_ids):
            if user_id in self.tables.accounts:
                values = self.attributes.get(user_id, {})
                found[user_id] = BorrowerRecord(
                    loans_repaid=values.get("loans_repaid", 0),
                    loans_defaulted=values.get("loans_defaulted", 0),
                    late_installments=values.get("late_installments", 0),
                )
        return found

    def _in_partition(self, partition: Partition) -> list[tuple[str, str]]:
        """(sort key, loan id) of the loans in a GSI2 partition, ascending."""
        with self.lock:
            return sorted((sk, loan_id) for loan_id, (pk, sk) in self.gsi2.items() if pk == partition)

    def open_loans(self, order: OpenLoanOrder, limit: int, after: str | None) -> tuple[list[LoanRecord], str | None]:
        if order == "newest":
            keys = [sk for sk, _ in reversed(self._in_partition("OPEN"))]
            if after is not None:
                keys = [sk for sk in keys if sk < after]
            ids = {sk: sk.rsplit("#", 1)[1] for sk in keys}
        else:
            index = self.open_index[order]
            keys = sorted(index)
            if after is not None:
                keys = [sk for sk in keys if sk > after]
            ids = dict(index)
        page, more = keys[:limit], len(keys) > limit
        loans = [self.loans[ids[sk]] for sk in page if ids[sk] in self.loans]
        return loans, (page[-1] if more and page else None)

    def loans_of(self, user_id: str, role: LoanRole, limit: int, after: str | None) -> tuple[list[LoanRecord], str | None]:
        if role == "borrower":
            keyed = {
                position(loan.created_at, loan.loan_id): loan.loan_id
                for loan in self.loans.values()
                if loan.borrower.user_id == user_id
            }
        else:
            keyed = {
                position(c.created_at, c.loan_id): c.loan_id
                for (_, lender), c in self.commitment_items.items()
                if lender == user_id
            }
        keys = sorted(keyed, reverse=True)
        if after is not None:
            keys = [sk for sk in keys if sk < after]
        page, more = keys[:limit], len(keys) > limit
        return [self.loans[keyed[sk]] for sk in page if keyed[sk] in self.loans], (page[-1] if more and page else None)

    def open_past_deadline(self, now: datetime) -> list[LoanRecord]:
        return [self.loans[loan_id] for _, loan_id in self._in_partition("OPEN") if self.loans[loan_id].funding_deadline <= now]

    def closing_loans(self) -> list[LoanRecord]:
        return [self.loans[loan_id] for _, loan_id in self._in_partition("CLOSING")]

    def due_loans(self, now: datetime, limit: int) -> list[LoanRecord]:
        bound = f"{iso(now)}#~"
        return [self.loans[loan_id] for sk, loan_id in self._in_partition("ACTIVE") if sk <= bound][:limit]

    # ------------------------------------------------------------ writes
    def create_loan(self, loan: LoanRecord, caps: Caps) -> None:
        """The loan (new), its two open-index items, and its amount reserved against the borrower's cap."""
        with self.lock:
            borrower_id = loan.borrower.user_id
            owed = self.attribute(borrower_id, "borrowing_outstanding")
            account = self.tables.accounts.get(borrower_id)
            refusal: DomainError = UserNotFound()
            if account is not None:
                refusal = LendingCapExceeded(
                    "This would take what you owe and have asked for past the borrower's cap.",
                    cap="borrower_total",
                    limit=caps.borrower_total,
                    remaining=caps.borrower_total - (owed or 0),
                )
            txn = _Transaction()
            txn.item("loan", loan.loan_id, loan.loan_id not in self.loans, DuplicateTransaction())
            for order, sk in open_index_positions(loan).items():
                txn.item(f"open-{order}", sk, True)
            txn.item(
                "account",
                borrower_id,
                account is not None and (owed is None or owed <= caps.borrower_total - loan.amount),
                refusal,
                precedence=1,
            )
            txn.check()
            stored = loan.model_copy(
                update={"created_at": stored_time(loan.created_at), "funding_deadline": stored_time(loan.funding_deadline)}
            )
            self.loans[loan.loan_id] = stored
            self.gsi2[loan.loan_id] = ("OPEN", position(stored.created_at, loan.loan_id))
            for order, sk in open_index_positions(stored).items():
                self.open_index[order][sk] = loan.loan_id
            self._add(borrower_id, "borrowing_outstanding", loan.amount, if_not_exists=True)
            self._written()

    def commit(self, plan: CommitmentPlan) -> None:
        self._race("commit")
        with self.lock:
            loan, commitment, ctxn, caps, now = plan.loan, plan.commitment, plan.txn, plan.caps, plan.now
            lender_id, borrower_id, amount = commitment.lender.user_id, loan.borrower.user_id, commitment.amount
            current = self.loans.get(loan.loan_id)
            lender = self.tables.accounts.get(lender_id)
            lent = self.attribute(lender_id, "lending_outstanding")
            to_borrower = self.lent_to(lender_id, borrower_id)
            lender_refusal: DomainError = UserNotFound()
            if lender is not None:
                if lender.record.balance < amount:
                    lender_refusal = InsufficientFunds(detail="Your balance is too low for this commitment.")
                elif (lent or 0) + amount > caps.lender_total:
                    lender_refusal = LendingCapExceeded(
                        "This would take what you have lent on the platform past the cap.",
                        cap="lender_total",
                        limit=caps.lender_total,
                        remaining=caps.lender_total - (lent or 0),
                    )
                else:
                    lender_refusal = LendingCapExceeded(
                        "This would take what you have lent to this borrower past the cap.",
                        cap="lender_to_borrower",
                        limit=caps.lender_to_borrower,
                        remaining=caps.lender_to_borrower - (to_borrower or 0),
                    )
            txn = _Transaction()
            txn.item("txn", ctxn.reference_id, ctxn.reference_id not in self.tables.transactions, DuplicateTransaction())
            txn.item(
                "commitment",
                f"{loan.loan_id}/{lender_id}",
                (loan.loan_id, lender_id) not in self.commitment_items,
                AlreadyCommitted(),
                precedence=1,
            )
            for owner, _, _ in ledger_sides(ctxn):
                txn.item("ledger", f"{owner.user_id}/{ctxn.reference_id}", True)
            txn.item(
                "account",
                lender_id,
                lender is not None
                and lender.record.balance >= amount
                and (lent is None or lent <= caps.lender_total - amount)
                and (to_borrower is None or to_borrower <= caps.lender_to_borrower - amount),
                lender_refusal,
                precedence=3,
            )
            disbursal = plan.disbursal
            if disbursal is None:
                txn.item(
                    "loan",
                    loan.loan_id,
                    current is not None
                    and current.status == "OPEN"
                    and current.funded < loan.amount - amount
                    and current.funding_deadline > now
                    and current.lender_count < caps.lenders_per_loan,
                    LoanChanged(),
                    precedence=2,
                )
            else:
                txn.item(
                    "loan",
                    loan.loan_id,
                    current is not None
                    and current.version == loan.version
                    and current.status == "OPEN"
                    and current.funding_deadline > now,
                    LoanChanged(),
                    precedence=2,
                )
                txn.item("account", borrower_id, borrower_id in self.tables.accounts, UserNotFound(), precedence=4)
                dtxn = disbursal.txn
                txn.item("txn", dtxn.reference_id, dtxn.reference_id not in self.tables.transactions, DuplicateTransaction())
                for owner, _, _ in ledger_sides(dtxn):
                    txn.item("ledger", f"{owner.user_id}/{dtxn.reference_id}", True)
                for order, sk in open_index_positions(loan).items():
                    txn.item(f"open-{order}", sk, True)
                for earlier in disbursal.earlier:
                    txn.item("txn", earlier.reference_id, self._commitment_pending(earlier))
                    txn.item("ledger", f"{earlier.lender.user_id}/{earlier.reference_id}", True)
            txn.check()
            assert current is not None
            self._put_transaction(ctxn)
            self.commitment_items[(loan.loan_id, lender_id)] = commitment.model_copy(
                update={"created_at": stored_time(commitment.created_at)}
            )
            self.tables.move(lender_id, -amount, ctxn)
            self._add(lender_id, "lending_outstanding", amount, if_not_exists=True)
            self._add(lender_id, pair_attribute(borrower_id), amount, if_not_exists=True)
            if disbursal is None:
                self.loans[loan.loan_id] = current.model_copy(
                    update={
                        "funded": current.funded + amount,
                        "escrow": current.escrow + amount,
                        "lender_count": current.lender_count + 1,
                        "version": current.version + 1,
                    }
                )
            else:
                self.loans[loan.loan_id] = current.model_copy(
                    update={
                        "funded": loan.amount,
                        "escrow": 0,
                        "lender_count": current.lender_count + 1,
                        "version": current.version + 1,
                        "status": "ACTIVE",
                        "disbursed_at": stored_time(now),
                        "schedule": disbursal.schedule,
                        "principal_outstanding": loan.amount,
                        "next_attempt_at": stored_time(disbursal.next_attempt_at),
                    }
                )
                self.gsi2[loan.loan_id] = ("ACTIVE", position(disbursal.next_attempt_at, loan.loan_id))
                self.tables.move(borrower_id, loan.amount, disbursal.txn)
                self._put_transaction(disbursal.txn)
                for order, sk in open_index_positions(loan).items():
                    self.open_index[order].pop(sk, None)
                for earlier in disbursal.earlier:
                    self._set_commitment_status(earlier, "SUCCESS")
            self._written()

    def close_request(self, loan: LoanRecord, status: Literal["CANCELLED", "EXPIRED"], now: datetime) -> None:
        self._race("close_request")
        with self.lock:
            current = self.loans.get(loan.loan_id)
            borrower_id = loan.borrower.user_id
            txn = _Transaction()
            txn.item(
                "loan",
                loan.loan_id,
                current is not None and current.status == "OPEN" and (status != "EXPIRED" or current.funding_deadline <= now),
                LoanChanged(),
            )
            for order, sk in open_index_positions(loan).items():
                txn.item(f"open-{order}", sk, True)
            txn.item("account", borrower_id, self._can_subtract(borrower_id, "borrowing_outstanding"))
            txn.check()
            assert current is not None
            self.loans[loan.loan_id] = current.model_copy(
                update={"status": status, "closed_at": stored_time(now), "version": current.version + 1}
            )
            self.gsi2[loan.loan_id] = ("CLOSING", position(now, loan.loan_id))
            for order, sk in open_index_positions(loan).items():
                self.open_index[order].pop(sk, None)
            self._add(borrower_id, "borrowing_outstanding", -loan.amount, if_not_exists=False)
            self._written()

    def refund(self, loan: LoanRecord, commitment: CommitmentRecord, txn: TransactionRecord) -> bool:
        self._race("refund")
        with self.lock:
            lender_id, borrower_id, amount = commitment.lender.user_id, loan.borrower.user_id, commitment.amount
            stored = self.commitment_items.get((loan.loan_id, lender_id))
            current = self.loans.get(loan.loan_id)
            already = DuplicateTransaction()
            write = _Transaction()
            write.item("commitment", f"{loan.loan_id}/{lender_id}", stored is not None and stored.status == "COMMITTED", already)
            write.item("txn", txn.reference_id, txn.reference_id not in self.tables.transactions, already)
            write.item(
                "loan",
                loan.loan_id,
                current is not None and current.status in _CLOSED and current.escrow >= amount,
                LoanChanged(),
                precedence=1,
            )
            write.item(
                "account",
                lender_id,
                lender_id in self.tables.accounts
                and self._can_subtract(lender_id, "lending_outstanding", pair_attribute(borrower_id)),
            )
            for owner, _, _ in ledger_sides(txn):
                write.item("ledger", f"{owner.user_id}/{txn.reference_id}", True)
            write.item("txn", commitment.reference_id, self._commitment_pending(commitment))
            write.item("ledger", f"{lender_id}/{commitment.reference_id}", True)
            try:
                write.check()
            except DuplicateTransaction as error:
                if error is already:
                    return False
                raise
            assert stored is not None
            assert current is not None
            self.commitment_items[(loan.loan_id, lender_id)] = stored.model_copy(update={"status": "REFUNDED"})
            self.loans[loan.loan_id] = current.model_copy(
                update={"escrow": current.escrow - amount, "version": current.version + 1}
            )
            self.tables.move(lender_id, amount, txn)
            self._add(lender_id, "lending_outstanding", -amount, if_not_exists=False)
            self._add(lender_id, pair_attribute(borrower_id), -amount, if_not_exists=False)
            self._put_transaction(txn)
            self._set_commitment_status(commitment, "REFUNDED")
            self._written()
            return True

    def finish_refunds(self, loan_id: str) -> bool:
        with self.lock:
            current = self.loans.get(loan_id)
            if current is None or current.escrow != 0 or current.status not in _CLOSED:
                return False
            self.gsi2.pop(loan_id, None)
            self._written()
            return True

    def _active_as_read(self, loan: LoanRecord) -> bool:
        current = self.loans.get(loan.loan_id)
        return current is not None and current.version == loan.version and current.status == "ACTIVE"

    @staticmethod
    def _with_installments(schedule: tuple[Installment, ...], changed: tuple[Installment, ...]) -> tuple[Installment, ...]:
        by_number = {installment.number: installment for installment in changed}
        return tuple(by_number.get(installment.number, installment) for installment in schedule)

    def repay(self, plan: RepaymentPlan) -> None:
        self._race("repay")
        with self.lock:
            loan, rtxn = plan.loan, plan.txn
            borrower_id = loan.borrower.user_id
            borrower = self.tables.accounts.get(borrower_id)
            released = {c.lender.user_id: c.amount for c in plan.released}
            txn = _Transaction()
            txn.item("txn", rtxn.reference_id, rtxn.reference_id not in self.tables.transactions, DuplicateTransaction())
            txn.item("loan", loan.loan_id, self._active_as_read(loan), LoanChanged(), precedence=1)
            txn.item(
                "account",
                borrower_id,
                borrower is not None and borrower.record.balance >= rtxn.amount,
                InsufficientFunds(detail="Your balance is too low for this repayment.") if borrower else UserNotFound(),
                precedence=2,
            )
            for owner, _, _ in ledger_sides(rtxn):
                txn.item("ledger", f"{owner.user_id}/{rtxn.reference_id}", True)
            for leg in rtxn.legs:
                lender_id = leg.party.user_id
                if leg.amount or lender_id in released:
                    needs = ("lending_outstanding", pair_attribute(borrower_id)) if lender_id in released else ()
                    txn.item("account", lender_id, lender_id in self.tables.accounts and self._can_subtract(lender_id, *needs))
            # The borrower's update subtracts from borrowing_outstanding: DynamoDB needs it there.
            if borrower is not None and not self._can_subtract(borrower_id, "borrowing_outstanding"):
                raise StoreRejected("borrowing_outstanding is not there to change")
            txn.check()
            current = self.loans[loan.loan_id]
            update: dict[str, object] = {
                "principal_outstanding": current.principal_outstanding - plan.principal,
                "principal_repaid": current.principal_repaid + plan.principal,
                "interest_paid": current.interest_paid + plan.interest,
                "late_fees_paid": current.late_fees_paid + plan.late_fee,
                "version": current.version + 1,
                "schedule": self._with_installments(current.schedule, plan.paid),
            }
            if plan.closes:
                update |= {"status": "REPAID", "closed_at": stored_time(plan.now), "next_attempt_at": None}
                self.gsi2.pop(loan.loan_id, None)
            elif plan.next_attempt_at is not None:
                update["next_attempt_at"] = stored_time(plan.next_attempt_at)
                self.gsi2[loan.loan_id] = ("ACTIVE", position(plan.next_attempt_at, loan.loan_id))
            self.loans[loan.loan_id] = current.model_copy(update=update)
            self.tables.move(borrower_id, -rtxn.amount, rtxn)
            self._add(borrower_id, "borrowing_outstanding", -plan.principal, if_not_exists=False)
            if plan.closes:
                self._add(borrower_id, "loans_repaid", 1, if_not_exists=True)
            for leg in rtxn.legs:
                if leg.amount:
                    self.tables.move(leg.party.user_id, leg.amount, rtxn)
                if leg.party.user_id in released:
                    lent = released[leg.party.user_id]
                    self._add(leg.party.user_id, "lending_outstanding", -lent, if_not_exists=False)
                    self._add(leg.party.user_id, pair_attribute(borrower_id), -lent, if_not_exists=False)
            self._put_transaction(rtxn)
            self._written()

    def mark_overdue(self, plan: OverduePlan) -> None:
        self._race("mark_overdue")
        with self.lock:
            loan = plan.loan
            borrower_id = loan.borrower.user_id
            txn = _Transaction()
            txn.item("loan", loan.loan_id, self._active_as_read(loan), LoanChanged())
            if plan.overdue or plan.defaulted:
                txn.item("account", borrower_id, borrower_id in self.tables.accounts)
            txn.check()
            current = self.loans[loan.loan_id]
            update: dict[str, object] = {
                "version": current.version + 1,
                "schedule": self._with_installments(current.schedule, plan.overdue),
            }
            if plan.defaulted:
                update |= {"status": "DEFAULTED", "closed_at": stored_time(plan.now), "next_attempt_at": None}
                self.gsi2.pop(loan.loan_id, None)
            elif plan.next_attempt_at is not None:
                update["next_attempt_at"] = stored_time(plan.next_attempt_at)
                self.gsi2[loan.loan_id] = ("ACTIVE", position(plan.next_attempt_at, loan.loan_id))
            self.loans[loan.loan_id] = current.model_copy(update=update)
            if plan.overdue:
                self._add(borrower_id, "late_installments", len(plan.overdue), if_not_exists=True)
            if plan.defaulted:
                self._add(borrower_id, "loans_defaulted", 1, if_not_exists=True)
            self._written()

    def postpone(self, loan: LoanRecord, next_attempt_at: datetime) -> None:
        self._race("postpone")
        with self.lock:
            txn = _Transaction()
            txn.item("loan", loan.loan_id, self._active_as_read(loan), LoanChanged())
            txn.check()
            current = self.loans[loan.loan_id]
            self.loans[loan.loan_id] = current.model_copy(update={"next_attempt_at": stored_time(next_attempt_at)})
            self.gsi2[loan.loan_id] = ("ACTIVE", position(next_attempt_at, loan.loan_id))
            self._written()


# ---------------------------------------------------------------- the fake is its port (checked by mypy)
_loan_store: LoanStore = FakeLoanStore(Tables())
