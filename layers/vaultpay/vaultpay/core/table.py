"""The main table's single-table design: keys, and records to and from items.

    USER#<id>            PROFILE                       profile (email, name, password hash, last 4)
    USER#<id>            ACCOUNT                       balance (paise), version, last_txn
    USER#<id>            LEDGER#<created_at>#<ref>     one side of a transaction (GSI1: by direction)
    USER#<id>            EVENT#<at>#<request id>       Aadhaar reveal event (feeds the audit stream)
    USER#<id>            SESSION#<family id>           the user's sessions, for "log out everywhere", TTL
    EMAIL#<email>        EMAIL                         uniqueness guard -> user id
    AADHAAR#<index>      AADHAAR                       uniqueness guard: type only (no number, no user id)
    TXN#<ref>            TXN                           the transaction
    REFRESH#<sha256>     REFRESH                       refresh token (hash only), TTL
    FAMILY#<id>          FAMILY                        refresh-token family = session (revocation, end), TTL
    LOGIN#<email>        FAILURES                      password checks since the last success (streak), TTL
    LOGIN#<email>        ADDRESS#<client>#<window>     password checks at this account from one client, TTL
    ADDRESS#<client>     LOGIN#<window>                password checks from one client, all accounts, TTL
    USER#<id>            LIMIT#<YYYY-MM-DD, IST>       sent that day (paise): the daily limit's counter, TTL
    USER#<id>            STEPUP#<sha256>               a step-up grant (hash only): session, expiry (TTL), single use
    USER#<id>            TOTP                          the sealed TOTP secret, status, last used step, recovery code hashes
    LOAN#<id>            LOAN                          a loan: terms, funded, escrow, schedule (GSI1: the borrower's;
                                                       GSI2: LOANS#OPEN by time, LOANS#ACTIVE by next collection,
                                                       LOANS#CLOSING while its escrow is refunded)
    LOAN#<id>            COMMIT#<lender id>            one lender's commitment (GSI1: the lender's loans)
    OPEN#RATE            <99999-rate bp>#<at>#<id>     open requests, highest rate first (deleted when it closes)
    OPEN#TENURE          <months>#<at>#<id>            open requests, shortest first (deleted when it closes)

A USER#<id> ACCOUNT item also carries the lending caps' counters: ``lending_outstanding``,
``borrowing_outstanding``, ``lent_to_<borrower id>``, and the borrower's record (``loans_repaid``,
``loans_defaulted``, ``late_installments``).

Every item carries ``type`` so the stream consumer and the reconciler can tell them apart.
"""

from __future__ import annotations

from typing import Any

from vaultpay.core.dynamo import Item, iso, marshal, marshal_values, parse_iso
from vaultpay.core.records import (
    AccountRecord,
    Direction,
    LedgerEntry,
    Leg,
    PartyRef,
    ProfileRecord,
    TransactionRecord,
    ledger_sides,
)

PK = "PK"
SK = "SK"
PROFILE_SK = "PROFILE"
ACCOUNT_SK = "ACCOUNT"
EMAIL_SK = "EMAIL"
AADHAAR_SK = "AADHAAR"
TXN_SK = "TXN"
REFRESH_SK = "REFRESH"
FAMILY_SK = "FAMILY"
FAILURES_SK = "FAILURES"
LEDGER_PREFIX = "LEDGER#"
EVENT_PREFIX = "EVENT#"
SESSION_PREFIX = "SESSION#"
LIMIT_PREFIX = "LIMIT#"
STEP_UP_PREFIX = "STEPUP#"
TOTP_SK = "TOTP"

TYPE_PROFILE = "PROFILE"
TYPE_ACCOUNT = "ACCOUNT"
TYPE_EMAIL_GUARD = "EMAIL_GUARD"
TYPE_AADHAAR_GUARD = "AADHAAR_GUARD"
TYPE_TXN = "TXN"
TYPE_LEDGER = "LEDGER"
TYPE_REFRESH = "REFRESH_TOKEN"
TYPE_FAMILY = "TOKEN_FAMILY"
TYPE_SESSION = "SESSION"
TYPE_LOGIN_FAILURES = "LOGIN_FAILURES"
TYPE_LOGIN_WINDOW = "LOGIN_WINDOW"
TYPE_AADHAAR_REVEALED = "AADHAAR_REVEALED"
TYPE_DAILY_SENT = "DAILY_SENT"
TYPE_STEP_UP_GRANT = "STEP_UP_GRANT"
TYPE_TOTP = "TOTP"
TYPE_LOAN = "LOAN"
TYPE_COMMITMENT = "LOAN_COMMITMENT"
TYPE_OPEN_LOAN_INDEX = "OPEN_LOAN_INDEX"
LOAN_SK = "LOAN"
COMMIT_PREFIX = "COMMIT#"


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def user_id_of(pk: str) -> str:
    return pk.removeprefix("USER#")


def email_pk(email: str) -> str:
    return f"EMAIL#{email}"


def aadhaar_pk(index: str) -> str:
    return f"AADHAAR#{index}"


AADHAAR_GUARD_ATTRIBUTES = frozenset({PK, SK, "type"})
"""All an Aadhaar guard holds: it proves that the number is taken, and says nothing else (no user id:
with the table alone, nobody can tell whose number an index is)."""


def aadhaar_guard(index: str) -> Item:
    """The uniqueness guard of an Aadhaar index (its MAC under the KMS index key)."""
    return {**key(aadhaar_pk(index), AADHAAR_SK), "type": TYPE_AADHAAR_GUARD}


def txn_pk(reference_id: str) -> str:
    return f"TXN#{reference_id}"


def refresh_pk(token_hash: str) -> str:
    return f"REFRESH#{token_hash}"


def family_pk(family_id: str) -> str:
    return f"FAMILY#{family_id}"


def session_sk(family_id: str) -> str:
    return f"{SESSION_PREFIX}{family_id}"


def login_failures_pk(email: str) -> str:
    return f"LOGIN#{email}"


def login_window_key(address: str, email: str | None, window_start: int) -> dict[str, str]:
    """Password checks from one client address in one window: at one account, or at all of them."""
    if email is None:
        return key(f"ADDRESS#{address}", f"LOGIN#{window_start}")
    return key(login_failures_pk(email), f"ADDRESS#{address}#{window_start}")


def direction_pk(user_id: str, direction: Direction) -> str:
    return f"USER#{user_id}#{direction.upper()}"


def loan_pk(loan_id: str) -> str:
    return f"LOAN#{loan_id}"


def commitment_key(loan_id: str, lender_id: str) -> dict[str, str]:
    return key(loan_pk(loan_id), f"{COMMIT_PREFIX}{lender_id}")


def loans_pk(state: str) -> str:
    """GSI2's partitions: LOANS#OPEN, LOANS#ACTIVE, LOANS#CLOSING."""
    return f"LOANS#{state}"


def role_pk(user_id: str, role: str) -> str:
    """GSI1's partitions of a user's loans: USER#<id>#BORROWED and USER#<id>#LENT."""
    return f"USER#{user_id}#{role.upper()}"


def open_index_key(order: str, loan_id: str, created: str, rate_bp: int, tenure_months: int) -> dict[str, str]:
    if order == "rate":
        return key("OPEN#RATE", f"{99999 - rate_bp:05d}#{created}#{loan_id}")
    return key("OPEN#TENURE", f"{tenure_months:02d}#{created}#{loan_id}")


def key(pk: str, sk: str) -> dict[str, str]:
    return {PK: pk, SK: sk}


# ---------------------------------------------------------------- profile and account
def profile_from_item(item: Item) -> ProfileRecord:
    return ProfileRecord(
        user_id=item["user_id"],
        email=item["email"],
        full_name=item["full_name"],
        password_hash=item["password_hash"],
        aadhaar_last4=item["aadhaar_last4"],
        created_at=parse_iso(item["created_at"]),
    )


def account_from_item(item: Item) -> AccountRecord:
    return AccountRecord(
        user_id=item["user_id"],
        email=item["email"],
        full_name=item["full_name"],
        balance=int(item["balance"]),
        version=int(item["version"]),
    )


# ---------------------------------------------------------------- transactions and ledger
def _party_item(party: PartyRef) -> dict[str, str]:
    return {"user_id": party.user_id, "email": party.email, "full_name": party.full_name}


def _leg_item(leg: Leg) -> dict[str, Any]:
    return {"party": _party_item(leg.party), "amount": leg.amount}


def transaction_item(txn: TransactionRecord) -> Item:
    return {
        **key(txn_pk(txn.reference_id), TXN_SK),
        "type": TYPE_TXN,
        "reference_id": txn.reference_id,
        "kind": txn.kind,
        "status": txn.status,
        "sender": _party_item(txn.sender),
        "receiver": _party_item(txn.receiver),
        "amount": txn.amount,
        "note": txn.note,
        "failure_reason": txn.failure_reason,
        "created_at": iso(txn.created_at),
        "loan_id": txn.loan_id,
        "legs": [_leg_item(leg) for leg in txn.legs] or None,
        "sender_balance_after": txn.sender_balance_after,
    }


def transaction_from_item(item: Item) -> TransactionRecord:
    return TransactionRecord(
        reference_id=item["reference_id"],
        kind=item["kind"],
        status=item["status"],
        sender=PartyRef(**item["sender"]),
        receiver=PartyRef(**item["receiver"]),
        amount=int(item["amount"]),
        note=item.get("note"),
        failure_reason=item.get("failure_reason"),
        created_at=parse_iso(item["created_at"]),
        loan_id=item.get("loan_id"),
        legs=tuple(Leg(party=PartyRef(**leg["party"]), amount=int(leg["amount"])) for leg in item.get("legs") or ()),
        sender_balance_after=item.get("sender_balance_after"),
    )


def ledger_sk(entry_time: str, reference_id: str) -> str:
    return f"{LEDGER_PREFIX}{entry_time}#{reference_id}"


def ledger_item(owner: PartyRef, txn: TransactionRecord, direction: Direction, amount: int | None = None) -> Item:
    counterparty = txn.receiver if direction == "sent" else txn.sender
    created = iso(txn.created_at)
    return {
        **key(user_pk(owner.user_id), ledger_sk(created, txn.reference_id)),
        "GSI1PK": direction_pk(owner.user_id, direction),
        "GSI1SK": f"{created}#{txn.reference_id}",
        "type": TYPE_LEDGER,
        "reference_id": txn.reference_id,
        "direction": direction,
        "counterparty": _party_item(counterparty),
        "amount": txn.amount if amount is None else amount,
        "status": txn.status,
        "note": txn.note,
        "created_at": created,
        "kind": txn.kind,
        "loan_id": txn.loan_id,
    }


def ledger_items(txn: TransactionRecord) -> list[Item]:
    """The ledger entries of a transaction (``records.ledger_sides``): both sides of a transfer,
    the sender's alone when it failed, the one account a loan's escrow pays or is paid by, the
    borrower and every lender of a repayment."""
    return [ledger_item(party, txn, direction, amount) for party, direction, amount in ledger_sides(txn)]


def ledger_from_item(item: Item) -> LedgerEntry:
    return LedgerEntry(
        reference_id=item["reference_id"],
        direction=item["direction"],
        counterparty=PartyRef(**item["counterparty"]),
        amount=int(item["amount"]),
        status=item["status"],
        note=item.get("note"),
        created_at=parse_iso(item["created_at"]),
        kind=item.get("kind"),
        loan_id=item.get("loan_id"),
    )


def account_balance_update(
    table: str,
    user_id: str,
    delta: int,
    txn: TransactionRecord,
    *,
    require_funds: bool,
    expected_balance: int | None = None,
) -> dict[str, Any]:
    """A TransactWriteItems Update moving ``delta`` paise on an existing account.

    A debit (``require_funds``) is conditioned on ``balance >= amount``, so a balance can never
    go below zero however many transfers race; with ``expected_balance`` also on the balance
    being exactly that, so the balance after is known without reading it back. Every change
    bumps ``version`` (the ETag) and names the transaction that caused it (``last_txn``, read by
    the audit consumer).
    """
    condition = "attribute_exists(PK)"
    values: dict[str, Any] = {":delta": delta, ":one": 1, ":ref": txn.reference_id, ":now": iso(txn.created_at)}
    if require_funds:
        condition += " AND balance >= :needed"
        values[":needed"] = -delta
    if expected_balance is not None:
        condition += " AND balance = :expected"
        values[":expected"] = expected_balance
    return {
        "Update": {
            "TableName": table,
            "Key": marshal(key(user_pk(user_id), ACCOUNT_SK)),
            "UpdateExpression": "SET balance = balance + :delta, version = version + :one, last_txn = :ref, updated_at = :now",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": marshal_values(values),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def put(table: str, item: Item, *, unique: bool = False) -> dict[str, Any]:
    """A TransactWriteItems Put; ``unique`` conditions it on the key being new."""
    request: dict[str, Any] = {"TableName": table, "Item": marshal(item)}
    if unique:
        request["ConditionExpression"] = "attribute_not_exists(PK)" if PK in item else "attribute_not_exists(pk)"
    return {"Put": request}


# ---------------------------------------------------------------- limits and step-up
def daily_sent_key(user_id: str, day: str) -> dict[str, str]:
    return key(user_pk(user_id), f"{LIMIT_PREFIX}{day}")


def step_up_grant_key(user_id: str, grant_hash: str) -> dict[str, str]:
    return key(user_pk(user_id), f"{STEP_UP_PREFIX}{grant_hash}")


def totp_key(user_id: str) -> dict[str, str]:
    return key(user_pk(user_id), TOTP_SK)


def consume_step_up_grant(table: str, user_id: str, grant_hash: str, session_id: str, now: int) -> dict[str, Any]:
    """A TransactWriteItems Delete spending a step-up grant: it must exist, belong to this session
    and not have expired (checked against the clock, not left to TTL). Spent with the operation it
    authorizes, in the same transaction, so it serves once and never in another session."""
    return {
        "Delete": {
            "TableName": table,
            "Key": marshal(step_up_grant_key(user_id, grant_hash)),
            "ConditionExpression": "attribute_exists(PK) AND session_id = :sid AND expires_at > :now",
            "ExpressionAttributeValues": marshal_values({":sid": session_id, ":now": now}),
        }
    }
