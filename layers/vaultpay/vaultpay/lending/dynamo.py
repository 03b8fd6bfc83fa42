"""Lending data access: loans, commitments and every movement of their money, each one
TransactWriteItems whose conditions are the rules (balance, remainder, deadline, caps, status).

Item counts (DynamoDB allows 100 per transaction): a commitment writes 5 items; the one that fills
a request 9 plus 2 for each earlier lender (their commitment's transaction and ledger entry turn
SUCCESS) and 2 open-index deletions; a repayment 4 plus 2 per lender (account, ledger entry). With
at most 40 lenders a loan's largest transaction is 89 items.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date
from typing import Any, Literal

from vaultpay.core import table as keys
from vaultpay.core.dynamo import (
    Item,
    TransactItem,
    iso,
    marshal,
    marshal_values,
    parse_iso,
    read_item,
    unmarshal,
    write_transaction,
)
from vaultpay.core.errors import (
    AlreadyCommitted,
    DuplicateTransaction,
    InsufficientFunds,
    LendingCapExceeded,
    LoanChanged,
    UserNotFound,
)
from vaultpay.core.records import PartyRef, TransactionRecord
from vaultpay.lending.models import (
    BorrowerRecord,
    CommitmentRecord,
    Installment,
    LoanRecord,
    LoanRole,
    OpenLoanOrder,
)
from vaultpay.lending.ports import Caps, CommitmentPlan, OverduePlan, RepaymentPlan

_CLOSED = ("CANCELLED", "EXPIRED")


# ---------------------------------------------------------------- items
def _party(party: PartyRef) -> dict[str, str]:
    return {"user_id": party.user_id, "email": party.email, "full_name": party.full_name}


def installment_item(installment: Installment) -> Item:
    return {
        "number": installment.number,
        "due_on": installment.due_on.isoformat(),
        "principal": installment.principal,
        "interest": installment.interest,
        "status": installment.status,
        "late_fee": installment.late_fee,
        "paid_amount": installment.paid_amount,
        "paid_at": iso(installment.paid_at) if installment.paid_at else None,
        "reference_id": installment.reference_id,
    }


def _installment_map(installment: Installment) -> Item:
    return {name: value for name, value in installment_item(installment).items() if value is not None}


def installment_from_item(item: Item) -> Installment:
    return Installment(
        number=int(item["number"]),
        due_on=date.fromisoformat(item["due_on"]),
        principal=int(item["principal"]),
        interest=int(item["interest"]),
        status=item["status"],
        late_fee=int(item.get("late_fee", 0)),
        paid_amount=int(item.get("paid_amount", 0)),
        paid_at=parse_iso(item["paid_at"]) if item.get("paid_at") else None,
        reference_id=item.get("reference_id"),
    )


def _position(moment: str, loan_id: str) -> str:
    return f"{moment}#{loan_id}"


def loan_item(loan: LoanRecord) -> Item:
    created = iso(loan.created_at)
    return {
        **keys.key(keys.loan_pk(loan.loan_id), keys.LOAN_SK),
        "type": keys.TYPE_LOAN,
        "loan_id": loan.loan_id,
        "borrower": _party(loan.borrower),
        "amount": loan.amount,
        "funded": loan.funded,
        "escrow": loan.escrow,
        "lender_count": loan.lender_count,
        "tenure_months": loan.tenure_months,
        "annual_rate_bp": loan.annual_rate_bp,
        "purpose": loan.purpose,
        "status": loan.status,
        "funding_deadline": iso(loan.funding_deadline),
        "created_at": created,
        "version": loan.version,
        "principal_outstanding": loan.principal_outstanding,
        "principal_repaid": loan.principal_repaid,
        "interest_paid": loan.interest_paid,
        "late_fees_paid": loan.late_fees_paid,
        "schedule": [_installment_map(installment) for installment in loan.schedule],
        "GSI1PK": keys.role_pk(loan.borrower.user_id, "BORROWED"),
        "GSI1SK": _position(created, loan.loan_id),
        "GSI2PK": keys.loans_pk("OPEN"),
        "GSI2SK": _position(created, loan.loan_id),
    }


def loan_from_item(item: Item) -> LoanRecord:
    return LoanRecord(
        loan_id=item["loan_id"],
        borrower=PartyRef(**item["borrower"]),
        amount=int(item["amount"]),
        funded=int(item["funded"]),
        escrow=int(item["escrow"]),
        lender_count=int(item["lender_count"]),
        tenure_months=int(item["tenure_months"]),
        annual_rate_bp=int(item["annual_rate_bp"]),
        purpose=item["purpose"],
        status=item["status"],
        funding_deadline=parse_iso(item["funding_deadline"]),
        created_at=parse_iso(item["created_at"]),
        version=int(item["version"]),
        disbursed_at=parse_iso(item["disbursed_at"]) if item.get("disbursed_at") else None,
        principal_outstanding=int(item.get("principal_outstanding", 0)),
        principal_repaid=int(item.get("principal_repaid", 0)),
        interest_paid=int(item.get("interest_paid", 0)),
        late_fees_paid=int(item.get("late_fees_paid", 0)),
        schedule=tuple(installment_from_item(entry) for entry in item.get("schedule") or ()),
        next_attempt_at=parse_iso(item["next_attempt_at"]) if item.get("next_attempt_at") else None,
        closed_at=parse_iso(item["closed_at"]) if item.get("closed_at") else None,
    )


def commitment_item(commitment: CommitmentRecord) -> Item:
    created = iso(commitment.created_at)
    return {
        **keys.commitment_key(commitment.loan_id, commitment.lender.user_id),
        "type": keys.TYPE_COMMITMENT,
        "loan_id": commitment.loan_id,
        "lender": _party(commitment.lender),
        "amount": commitment.amount,
        "status": commitment.status,
        "reference_id": commitment.reference_id,
        "created_at": created,
        "GSI1PK": keys.role_pk(commitment.lender.user_id, "LENT"),
        "GSI1SK": _position(created, commitment.loan_id),
    }


def commitment_from_item(item: Item) -> CommitmentRecord:
    return CommitmentRecord(
        loan_id=item["loan_id"],
        lender=PartyRef(**item["lender"]),
        amount=int(item["amount"]),
        status=item["status"],
        reference_id=item["reference_id"],
        created_at=parse_iso(item["created_at"]),
    )


def _open_index_items(loan: LoanRecord) -> list[Item]:
    created = iso(loan.created_at)
    return [
        {
            **keys.open_index_key(order, loan.loan_id, created, loan.annual_rate_bp, loan.tenure_months),
            "type": keys.TYPE_OPEN_LOAN_INDEX,
            "loan_id": loan.loan_id,
        }
        for order in ("rate", "tenure")
    ]


# ---------------------------------------------------------------- requests
def _update(
    table: str,
    key: dict[str, str],
    expression: str,
    values: dict[str, Any],
    *,
    names: dict[str, str] | None = None,
    condition: str | None = None,
    return_old: bool = False,
) -> dict[str, Any]:
    request: dict[str, Any] = {"TableName": table, "Key": marshal(key), "UpdateExpression": expression}
    if values:
        request["ExpressionAttributeValues"] = marshal_values(values)
    if names:
        request["ExpressionAttributeNames"] = names
    if condition:
        request["ConditionExpression"] = condition
    if return_old:
        request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Update": request}


def _delete(table: str, key: dict[str, str]) -> dict[str, Any]:
    return {"Delete": {"TableName": table, "Key": marshal(key)}}


def _account_key(user_id: str) -> dict[str, str]:
    return keys.key(keys.user_pk(user_id), keys.ACCOUNT_SK)


def _pair_attribute(borrower_id: str) -> str:
    return f"lent_to_{borrower_id}"


def _loan_changed(_seen: object) -> LoanChanged:
    return LoanChanged()


def _duplicate(_seen: object) -> DuplicateTransaction:
    return DuplicateTransaction()


def _lender_refused(amount: int, caps: Caps, borrower_id: str) -> Callable[[Item | None], Exception]:
    def build(seen: Item | None) -> Exception:
        if seen is None:
            return UserNotFound()
        if int(seen.get("balance", 0)) < amount:
            return InsufficientFunds(detail="Your balance is too low for this commitment.")
        lent = int(seen.get("lending_outstanding", 0))
        if lent + amount > caps.lender_total:
            return LendingCapExceeded(
                "This would take what you have lent on the platform past the cap.",
                cap="lender_total",
                limit=caps.lender_total,
                remaining=caps.lender_total - lent,
            )
        to_borrower = int(seen.get(_pair_attribute(borrower_id), 0))
        return LendingCapExceeded(
            "This would take what you have lent to this borrower past the cap.",
            cap="lender_to_borrower",
            limit=caps.lender_to_borrower,
            remaining=caps.lender_to_borrower - to_borrower,
        )

    return build


def _borrower_refused(caps: Caps) -> Callable[[Item | None], Exception]:
    def build(seen: Item | None) -> Exception:
        if seen is None:
            return UserNotFound()
        owed = int(seen.get("borrowing_outstanding", 0))
        return LendingCapExceeded(
            "This would take what you owe and have asked for past the borrower's cap.",
            cap="borrower_total",
            limit=caps.borrower_total,
            remaining=caps.borrower_total - owed,
        )

    return build


class DynamoLoanRepository:
    def __init__(self, client: Any, main_table: str, *, conflict_retries: int = 4) -> None:
        self._client = client
        self._main = main_table
        self._retries = conflict_retries

    def _write(self, items: list[TransactItem]) -> None:
        write_transaction(self._client, items, conflict_retries=self._retries)

    # ------------------------------------------------------------ reads
    def load_party(self, user_id: str) -> PartyRef | None:
        item = read_item(self._client, self._main, _account_key(user_id), projection="user_id, email, full_name")
        return PartyRef(**item) if item else None

    def get_loan(self, loan_id: str) -> LoanRecord | None:
        item = read_item(self._client, self._main, keys.key(keys.loan_pk(loan_id), keys.LOAN_SK))
        return loan_from_item(item) if item else None

    def get_loans(self, loan_ids: Collection[str]) -> dict[str, LoanRecord]:
        found: dict[str, LoanRecord] = {}
        wanted = sorted(set(loan_ids))
        for start in range(0, len(wanted), 100):
            batch = [marshal(keys.key(keys.loan_pk(loan_id), keys.LOAN_SK)) for loan_id in wanted[start : start + 100]]
            request: dict[str, Any] = {self._main: {"Keys": batch, "ConsistentRead": True}}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for raw in response.get("Responses", {}).get(self._main, []):
                    loan = loan_from_item(unmarshal(raw))
                    found[loan.loan_id] = loan
                request = response.get("UnprocessedKeys") or {}
        return found

    def commitments(self, loan_id: str) -> list[CommitmentRecord]:
        found = self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues=marshal_values({":pk": keys.loan_pk(loan_id), ":prefix": keys.COMMIT_PREFIX}),
            ConsistentRead=True,
        )
        commitments = [commitment_from_item(item) for item in found]
        return sorted(commitments, key=lambda c: (c.created_at, c.lender.user_id))

    def commitment_of(self, loan_id: str, lender_id: str) -> CommitmentRecord | None:
        item = read_item(self._client, self._main, keys.commitment_key(loan_id, lender_id))
        return commitment_from_item(item) if item else None

    def get_transaction(self, reference_id: str) -> TransactionRecord | None:
        item = read_item(self._client, self._main, keys.key(keys.txn_pk(reference_id), keys.TXN_SK))
        return keys.transaction_from_item(item) if item else None

    def get_balance(self, user_id: str) -> int | None:
        item = read_item(self._client, self._main, _account_key(user_id), projection="balance")
        return int(item["balance"]) if item else None

    def lending_outstanding(self, lender_id: str, borrower_id: str) -> tuple[int, int]:
        # The pair's attribute name holds a user id (hyphens): it needs a placeholder, which read_item does not take.
        response = self._client.get_item(
            TableName=self._main,
            Key=marshal(_account_key(lender_id)),
            ProjectionExpression="lending_outstanding, #pair",
            ExpressionAttributeNames={"#pair": _pair_attribute(borrower_id)},
            ConsistentRead=True,
        )
        item = unmarshal(response["Item"]) if response.get("Item") else {}
        return int(item.get("lending_outstanding", 0)), int(item.get(_pair_attribute(borrower_id), 0))

    def borrower_records(self, user_ids: Collection[str]) -> dict[str, BorrowerRecord]:
        found: dict[str, BorrowerRecord] = {}
        wanted = sorted(set(user_ids))
        for start in range(0, len(wanted), 100):
            batch = [marshal(_account_key(user_id)) for user_id in wanted[start : start + 100]]
            request: dict[str, Any] = {
                self._main: {"Keys": batch, "ProjectionExpression": "user_id, loans_repaid, loans_defaulted, late_installments"}
            }
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for raw in response.get("Responses", {}).get(self._main, []):
                    item = unmarshal(raw)
                    found[item["user_id"]] = BorrowerRecord(**{k: int(v) for k, v in item.items() if k != "user_id"})
                request = response.get("UnprocessedKeys") or {}
        return found

    def _query_all(self, **query: Any) -> list[Item]:
        items: list[Item] = []
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(TableName=self._main, **query):
            items.extend(unmarshal(item) for item in page.get("Items", []))
        return items

    def _query_page(self, limit: int, after: dict[str, str] | None, **query: Any) -> tuple[list[Item], bool]:
        request: dict[str, Any] = {"TableName": self._main, "Limit": limit + 1, **query}
        if after is not None:
            request["ExclusiveStartKey"] = marshal(after)
        items = [unmarshal(item) for item in self._client.query(**request).get("Items", [])]
        return items[:limit], len(items) > limit

    def open_loans(self, order: OpenLoanOrder, limit: int, after: str | None) -> tuple[list[LoanRecord], str | None]:
        if order == "newest":
            start = None
            if after is not None:
                loan_id = after.rsplit("#", 1)[1]
                start = {
                    **keys.key(keys.loan_pk(loan_id), keys.LOAN_SK),
                    "GSI2PK": keys.loans_pk("OPEN"),
                    "GSI2SK": after,
                }
            items, more = self._query_page(
                limit,
                start,
                IndexName="GSI2",
                KeyConditionExpression="GSI2PK = :pk",
                ExpressionAttributeValues=marshal_values({":pk": keys.loans_pk("OPEN")}),
                ScanIndexForward=False,
            )
            loans = [loan_from_item(item) for item in items]
            return loans, (items[-1]["GSI2SK"] if more and items else None)
        partition = "OPEN#RATE" if order == "rate" else "OPEN#TENURE"
        index_items, more = self._query_page(
            limit,
            keys.key(partition, after) if after is not None else None,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=marshal_values({":pk": partition}),
        )
        loans_by_id = self.get_loans([item["loan_id"] for item in index_items])
        loans = [loans_by_id[item["loan_id"]] for item in index_items if item["loan_id"] in loans_by_id]
        return loans, (index_items[-1][keys.SK] if more and index_items else None)

    def loans_of(self, user_id: str, role: LoanRole, limit: int, after: str | None) -> tuple[list[LoanRecord], str | None]:
        partition = keys.role_pk(user_id, "BORROWED" if role == "borrower" else "LENT")
        start = None
        if after is not None:
            loan_id = after.rsplit("#", 1)[1]
            table_key = (
                keys.key(keys.loan_pk(loan_id), keys.LOAN_SK) if role == "borrower" else keys.commitment_key(loan_id, user_id)
            )
            start = {**table_key, "GSI1PK": partition, "GSI1SK": after}
        items, more = self._query_page(
            limit,
            start,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=marshal_values({":pk": partition}),
            ScanIndexForward=False,
        )
        last = items[-1]["GSI1SK"] if more and items else None
        if role == "borrower":
            return [loan_from_item(item) for item in items], last
        loans = self.get_loans([item["loan_id"] for item in items])
        return [loans[item["loan_id"]] for item in items if item["loan_id"] in loans], last

    def open_past_deadline(self, now: Any) -> list[LoanRecord]:
        items = self._query_all(
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk",
            FilterExpression="funding_deadline <= :now",
            ExpressionAttributeValues=marshal_values({":pk": keys.loans_pk("OPEN"), ":now": iso(now)}),
        )
        return [loan_from_item(item) for item in items]

    def closing_loans(self) -> list[LoanRecord]:
        items = self._query_all(
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk",
            ExpressionAttributeValues=marshal_values({":pk": keys.loans_pk("CLOSING")}),
        )
        return [loan_from_item(item) for item in items]

    def due_loans(self, now: Any, limit: int) -> list[LoanRecord]:
        items, _more = self._query_page(
            limit,
            None,
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk AND GSI2SK <= :bound",
            ExpressionAttributeValues=marshal_values({":pk": keys.loans_pk("ACTIVE"), ":bound": f"{iso(now)}#~"}),
        )
        return [loan_from_item(item) for item in items]

    # ------------------------------------------------------------ writes
    def create_loan(self, loan: LoanRecord, caps: Caps) -> None:
        self._write(
            [
                TransactItem(keys.put(self._main, loan_item(loan), unique=True), on_condition_failed=_duplicate),
                *(TransactItem(keys.put(self._main, item)) for item in _open_index_items(loan)),
                TransactItem(
                    _update(
                        self._main,
                        _account_key(loan.borrower.user_id),
                        "SET borrowing_outstanding = if_not_exists(borrowing_outstanding, :zero) + :amount",
                        {":zero": 0, ":amount": loan.amount, ":room": caps.borrower_total - loan.amount},
                        condition="attribute_exists(PK) AND "
                        "(attribute_not_exists(borrowing_outstanding) OR borrowing_outstanding <= :room)",
                        return_old=True,
                    ),
                    on_condition_failed=_borrower_refused(caps),
                    precedence=1,
                ),
            ]
        )

    def commit(self, plan: CommitmentPlan) -> None:
        loan, commitment, txn, caps = plan.loan, plan.commitment, plan.txn, plan.caps
        lender_id, amount = commitment.lender.user_id, commitment.amount
        items = [
            TransactItem(keys.put(self._main, keys.transaction_item(txn), unique=True), on_condition_failed=_duplicate),
            TransactItem(
                keys.put(self._main, commitment_item(commitment), unique=True),
                on_condition_failed=lambda _: AlreadyCommitted(),
                precedence=1,
            ),
            *(TransactItem(keys.put(self._main, entry)) for entry in keys.ledger_items(txn)),
            TransactItem(
                _update(
                    self._main,
                    _account_key(lender_id),
                    "SET balance = balance - :amount, version = version + :one, last_txn = :ref, updated_at = :now, "
                    "lending_outstanding = if_not_exists(lending_outstanding, :zero) + :amount, "
                    "#pair = if_not_exists(#pair, :zero) + :amount",
                    {
                        ":amount": amount,
                        ":one": 1,
                        ":zero": 0,
                        ":ref": txn.reference_id,
                        ":now": iso(plan.now),
                        ":lender_room": caps.lender_total - amount,
                        ":pair_room": caps.lender_to_borrower - amount,
                    },
                    names={"#pair": _pair_attribute(loan.borrower.user_id)},
                    condition="attribute_exists(PK) AND balance >= :amount "
                    "AND (attribute_not_exists(lending_outstanding) OR lending_outstanding <= :lender_room) "
                    "AND (attribute_not_exists(#pair) OR #pair <= :pair_room)",
                    return_old=True,
                ),
                on_condition_failed=_lender_refused(amount, caps, loan.borrower.user_id),
                precedence=3,
            ),
        ]
        loan_key = keys.key(keys.loan_pk(loan.loan_id), keys.LOAN_SK)
        disbursal = plan.disbursal
        if disbursal is None:
            items.append(
                TransactItem(
                    _update(
                        self._main,
                        loan_key,
                        "SET funded = funded + :amount, escrow = escrow + :amount, "
                        "lender_count = lender_count + :one, version = version + :one",
                        {
                            ":amount": amount,
                            ":one": 1,
                            ":open": "OPEN",
                            ":room": loan.amount - amount,
                            ":now": iso(plan.now),
                            ":lenders": caps.lenders_per_loan,
                        },
                        names={"#status": "status"},
                        condition="#status = :open AND funded <= :room AND funding_deadline > :now AND lender_count < :lenders",
                    ),
                    on_condition_failed=_loan_changed,
                    precedence=2,
                )
            )
        else:
            next_attempt = iso(disbursal.next_attempt_at)
            items += [
                TransactItem(
                    _update(
                        self._main,
                        loan_key,
                        "SET funded = :amount, escrow = :zero, lender_count = lender_count + :one, "
                        "version = version + :one, #status = :active, disbursed_at = :now, #schedule = :schedule, "
                        "principal_outstanding = :amount, next_attempt_at = :next, GSI2PK = :gsi2pk, GSI2SK = :gsi2sk",
                        {
                            ":amount": loan.amount,
                            ":zero": 0,
                            ":one": 1,
                            ":active": "ACTIVE",
                            ":open": "OPEN",
                            ":version": loan.version,
                            ":now": iso(plan.now),
                            ":schedule": [_installment_map(i) for i in disbursal.schedule],
                            ":next": next_attempt,
                            ":gsi2pk": keys.loans_pk("ACTIVE"),
                            ":gsi2sk": _position(next_attempt, loan.loan_id),
                        },
                        names={"#status": "status", "#schedule": "schedule"},
                        condition="version = :version AND #status = :open AND funding_deadline > :now",
                    ),
                    on_condition_failed=_loan_changed,
                    precedence=2,
                ),
                TransactItem(
                    keys.account_balance_update(
                        self._main, loan.borrower.user_id, loan.amount, disbursal.txn, require_funds=False
                    ),
                    on_condition_failed=lambda _: UserNotFound(),
                    precedence=4,
                ),
                TransactItem(
                    keys.put(self._main, keys.transaction_item(disbursal.txn), unique=True), on_condition_failed=_duplicate
                ),
                *(TransactItem(keys.put(self._main, entry)) for entry in keys.ledger_items(disbursal.txn)),
                *(TransactItem(_delete(self._main, keys.key(i[keys.PK], i[keys.SK]))) for i in _open_index_items(loan)),
            ]
            for earlier in disbursal.earlier:
                items += self._commitment_status(earlier, "SUCCESS")
        self._write(items)

    def _commitment_status(self, commitment: CommitmentRecord, status: str) -> list[TransactItem]:
        """A commitment's transaction and its lender's ledger entry, from PENDING to ``status``."""
        return [
            TransactItem(
                _update(
                    self._main,
                    keys.key(keys.txn_pk(commitment.reference_id), keys.TXN_SK),
                    "SET #status = :status",
                    {":status": status, ":pending": "PENDING"},
                    names={"#status": "status"},
                    condition="#status = :pending",
                )
            ),
            TransactItem(
                _update(
                    self._main,
                    keys.key(
                        keys.user_pk(commitment.lender.user_id),
                        keys.ledger_sk(iso(commitment.created_at), commitment.reference_id),
                    ),
                    "SET #status = :status",
                    {":status": status},
                    names={"#status": "status"},
                )
            ),
        ]

    def close_request(self, loan: LoanRecord, status: Literal["CANCELLED", "EXPIRED"], now: Any) -> None:
        condition = "#status = :open" + (" AND funding_deadline <= :now" if status == "EXPIRED" else "")
        closed = iso(now)
        self._write(
            [
                TransactItem(
                    _update(
                        self._main,
                        keys.key(keys.loan_pk(loan.loan_id), keys.LOAN_SK),
                        "SET #status = :status, closed_at = :now, version = version + :one, GSI2PK = :gsi2pk, GSI2SK = :gsi2sk",
                        {
                            ":status": status,
                            ":open": "OPEN",
                            ":now": closed,
                            ":one": 1,
                            ":gsi2pk": keys.loans_pk("CLOSING"),
                            ":gsi2sk": _position(closed, loan.loan_id),
                        },
                        names={"#status": "status"},
                        condition=condition,
                    ),
                    on_condition_failed=_loan_changed,
                ),
                *(TransactItem(_delete(self._main, keys.key(i[keys.PK], i[keys.SK]))) for i in _open_index_items(loan)),
                TransactItem(
                    _update(
                        self._main,
                        _account_key(loan.borrower.user_id),
                        "SET borrowing_outstanding = borrowing_outstanding - :amount",
                        {":amount": loan.amount},
                        condition="attribute_exists(borrowing_outstanding)",
                    )
                ),
            ]
        )

    def refund(self, loan: LoanRecord, commitment: CommitmentRecord, txn: TransactionRecord) -> bool:
        loan_id, borrower_id = loan.loan_id, loan.borrower.user_id
        lender_id, amount = commitment.lender.user_id, commitment.amount
        already = False

        def refunded_before(_seen: object) -> DuplicateTransaction:
            nonlocal already
            already = True
            return DuplicateTransaction()

        items = [
            TransactItem(
                _update(
                    self._main,
                    keys.commitment_key(loan_id, lender_id),
                    "SET #status = :refunded, refunded_at = :now",
                    {":refunded": "REFUNDED", ":committed": "COMMITTED", ":now": iso(txn.created_at)},
                    names={"#status": "status"},
                    condition="#status = :committed",
                ),
                on_condition_failed=refunded_before,
            ),
            TransactItem(keys.put(self._main, keys.transaction_item(txn), unique=True), on_condition_failed=refunded_before),
            TransactItem(
                _update(
                    self._main,
                    keys.key(keys.loan_pk(loan_id), keys.LOAN_SK),
                    "SET escrow = escrow - :amount, version = version + :one",
                    {":amount": amount, ":one": 1, ":cancelled": "CANCELLED", ":expired": "EXPIRED"},
                    names={"#status": "status"},
                    condition="#status IN (:cancelled, :expired) AND escrow >= :amount",
                ),
                on_condition_failed=_loan_changed,
                precedence=1,
            ),
            TransactItem(
                _update(
                    self._main,
                    _account_key(lender_id),
                    "SET balance = balance + :amount, version = version + :one, last_txn = :ref, updated_at = :now, "
                    "lending_outstanding = lending_outstanding - :amount, #pair = #pair - :amount",
                    {":amount": amount, ":one": 1, ":ref": txn.reference_id, ":now": iso(txn.created_at)},
                    names={"#pair": _pair_attribute(borrower_id)},
                    condition="attribute_exists(PK)",
                )
            ),
            *(TransactItem(keys.put(self._main, entry)) for entry in keys.ledger_items(txn)),
            *self._commitment_status(commitment, "REFUNDED"),
        ]
        try:
            self._write(items)
        except DuplicateTransaction:
            if already:
                return False
            raise
        return True

    def finish_refunds(self, loan_id: str) -> bool:
        try:
            self._write(
                [
                    TransactItem(
                        _update(
                            self._main,
                            keys.key(keys.loan_pk(loan_id), keys.LOAN_SK),
                            "REMOVE GSI2PK, GSI2SK",
                            {":zero": 0, ":cancelled": "CANCELLED", ":expired": "EXPIRED"},
                            names={"#status": "status"},
                            condition="escrow = :zero AND #status IN (:cancelled, :expired)",
                        ),
                        on_condition_failed=_loan_changed,
                    )
                ]
            )
        except LoanChanged:
            return False
        return True

    def _loan_version_condition(self, loan: LoanRecord, values: dict[str, Any]) -> str:
        values[":version"] = loan.version
        values[":active"] = "ACTIVE"
        return "version = :version AND #status = :active"

    def repay(self, plan: RepaymentPlan) -> None:
        loan, txn = plan.loan, plan.txn
        positions = {installment.number: index for index, installment in enumerate(loan.schedule)}
        values: dict[str, Any] = {
            ":principal": plan.principal,
            ":interest": plan.interest,
            ":fee": plan.late_fee,
            ":one": 1,
        }
        names = {"#status": "status", "#schedule": "schedule"}
        sets = [
            "principal_outstanding = principal_outstanding - :principal",
            "principal_repaid = principal_repaid + :principal",
            "interest_paid = interest_paid + :interest",
            "late_fees_paid = late_fees_paid + :fee",
            "version = version + :one",
        ]
        for installment in plan.paid:
            index = positions[installment.number]
            values[f":i{index}"] = _installment_map(installment)
            sets.append(f"#schedule[{index}] = :i{index}")
        removes: list[str] = []
        if plan.closes:
            values[":repaid"] = "REPAID"
            values[":now"] = iso(plan.now)
            sets += ["#status = :repaid", "closed_at = :now"]
            removes = ["GSI2PK", "GSI2SK", "next_attempt_at"]
        elif plan.next_attempt_at is not None:
            next_attempt = iso(plan.next_attempt_at)
            values[":next"] = next_attempt
            values[":gsi2sk"] = _position(next_attempt, loan.loan_id)
            sets += ["next_attempt_at = :next", "GSI2SK = :gsi2sk"]
        condition = self._loan_version_condition(loan, values)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        borrower_values: dict[str, Any] = {
            ":amount": txn.amount,
            ":principal": plan.principal,
            ":one": 1,
            ":ref": txn.reference_id,
            ":now": iso(plan.now),
        }
        borrower_expression = (
            "SET balance = balance - :amount, version = version + :one, last_txn = :ref, updated_at = :now, "
            "borrowing_outstanding = borrowing_outstanding - :principal"
        )
        if plan.closes:
            borrower_expression += ", loans_repaid = if_not_exists(loans_repaid, :zero) + :one"
            borrower_values[":zero"] = 0
        items = [
            TransactItem(keys.put(self._main, keys.transaction_item(txn), unique=True), on_condition_failed=_duplicate),
            TransactItem(
                _update(
                    self._main,
                    keys.key(keys.loan_pk(loan.loan_id), keys.LOAN_SK),
                    expression,
                    values,
                    names=names,
                    condition=condition,
                ),
                on_condition_failed=_loan_changed,
                precedence=1,
            ),
            TransactItem(
                _update(
                    self._main,
                    _account_key(loan.borrower.user_id),
                    borrower_expression,
                    borrower_values,
                    condition="attribute_exists(PK) AND balance >= :amount",
                    return_old=True,
                ),
                on_condition_failed=lambda seen: (
                    InsufficientFunds(detail="Your balance is too low for this repayment.") if seen else UserNotFound()
                ),
                precedence=2,
            ),
            *(TransactItem(keys.put(self._main, entry)) for entry in keys.ledger_items(txn)),
        ]
        released = {c.lender.user_id: c.amount for c in plan.released}
        for leg in txn.legs:
            lender_sets: list[str] = []
            lender_values: dict[str, Any] = {}
            lender_names: dict[str, str] = {}
            if leg.amount:
                lender_sets.append("balance = balance + :amount, version = version + :one, last_txn = :ref, updated_at = :now")
                lender_values.update({":amount": leg.amount, ":one": 1, ":ref": txn.reference_id, ":now": iso(plan.now)})
            if leg.party.user_id in released:
                lender_sets.append("lending_outstanding = lending_outstanding - :lent, #pair = #pair - :lent")
                lender_values[":lent"] = released[leg.party.user_id]
                lender_names["#pair"] = _pair_attribute(loan.borrower.user_id)
            if lender_sets:
                items.append(
                    TransactItem(
                        _update(
                            self._main,
                            _account_key(leg.party.user_id),
                            "SET " + ", ".join(lender_sets),
                            lender_values,
                            names=lender_names or None,
                            condition="attribute_exists(PK)",
                        )
                    )
                )
        self._write(items)

    def mark_overdue(self, plan: OverduePlan) -> None:
        loan = plan.loan
        positions = {installment.number: index for index, installment in enumerate(loan.schedule)}
        values: dict[str, Any] = {":one": 1}
        names = {"#status": "status", "#schedule": "schedule"}
        sets = ["version = version + :one"]
        for installment in plan.overdue:
            index = positions[installment.number]
            values[f":i{index}"] = _installment_map(installment)
            sets.append(f"#schedule[{index}] = :i{index}")
        removes: list[str] = []
        if plan.defaulted:
            values[":defaulted"] = "DEFAULTED"
            values[":now"] = iso(plan.now)
            sets += ["#status = :defaulted", "closed_at = :now"]
            removes = ["GSI2PK", "GSI2SK", "next_attempt_at"]
        elif plan.next_attempt_at is not None:
            next_attempt = iso(plan.next_attempt_at)
            values[":next"] = next_attempt
            values[":gsi2sk"] = _position(next_attempt, loan.loan_id)
            sets += ["next_attempt_at = :next", "GSI2SK = :gsi2sk"]
        condition = self._loan_version_condition(loan, values)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        items = [
            TransactItem(
                _update(
                    self._main,
                    keys.key(keys.loan_pk(loan.loan_id), keys.LOAN_SK),
                    expression,
                    values,
                    names=names,
                    condition=condition,
                ),
                on_condition_failed=_loan_changed,
            )
        ]
        record_sets = []
        record_values: dict[str, Any] = {":zero": 0}
        if plan.overdue:
            record_sets.append("late_installments = if_not_exists(late_installments, :zero) + :late")
            record_values[":late"] = len(plan.overdue)
        if plan.defaulted:
            record_sets.append("loans_defaulted = if_not_exists(loans_defaulted, :zero) + :one")
            record_values[":one"] = 1
        if record_sets:
            items.append(
                TransactItem(
                    _update(
                        self._main,
                        _account_key(loan.borrower.user_id),
                        "SET " + ", ".join(record_sets),
                        record_values,
                        condition="attribute_exists(PK)",
                    )
                )
            )
        self._write(items)

    def postpone(self, loan: LoanRecord, next_attempt_at: Any) -> None:
        next_attempt = iso(next_attempt_at)
        values: dict[str, Any] = {":next": next_attempt, ":gsi2sk": _position(next_attempt, loan.loan_id)}
        condition = self._loan_version_condition(loan, values)
        self._write(
            [
                TransactItem(
                    _update(
                        self._main,
                        keys.key(keys.loan_pk(loan.loan_id), keys.LOAN_SK),
                        "SET next_attempt_at = :next, GSI2SK = :gsi2sk",
                        values,
                        names={"#status": "status"},
                        condition=condition,
                    ),
                    on_condition_failed=_loan_changed,
                )
            ]
        )
