"""The audit trail's logic: one record per change, each balance change checked against its transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.fakes import START, FakeAuditStore, FakeClock, FakeWalletStore, Tables
from vaultpay.audit.logic import AuditService
from vaultpay.audit.models import (
    AadhaarRevealed,
    AccountOpened,
    AuditRecord,
    BalanceChanged,
    Change,
    RefreshFamilyRevoked,
    StreamEvent,
    TransactionCreated,
    UserRegistered,
)
from vaultpay.core.records import SYSTEM_PARTY, PartyRef, TransactionRecord

ALICE = PartyRef(user_id="alice-id", email="alice@example.com", full_name="Alice Rao")
BOB = PartyRef(user_id="bob-id", email="bob@example.com", full_name="Bob Iyer")
REF = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
EARLIER_REF = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
STORED_REF = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"


def transfer(reference_id: str = REF, amount: int = 25_000, status: str = "SUCCESS") -> TransactionRecord:
    return TransactionRecord.model_validate(
        {
            "reference_id": reference_id,
            "kind": "TRANSFER",
            "status": status,
            "sender": ALICE,
            "receiver": BOB,
            "amount": amount,
            "created_at": START,
        }
    )


def debit(
    user: PartyRef, old: int, new: int, reference_id: str | None = REF, previous: str | None = EARLIER_REF
) -> BalanceChanged:
    return BalanceChanged(
        user_id=user.user_id,
        old_balance=old,
        new_balance=new,
        version=2,
        reference_id=reference_id,
        previous_reference_id=previous,
    )


class Events:
    """Stream events with fresh ids, in arrival order."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, change: Change) -> tuple[StreamEvent, Change]:
        self.count += 1
        event = StreamEvent(
            event_id=f"event-{self.count}",
            sequence_number=f"{self.count:021d}",
            occurred_at=START + timedelta(seconds=self.count),
        )
        return event, change


@pytest.fixture
def event() -> Events:
    return Events()


@pytest.fixture
def transactions(tables: Tables) -> FakeWalletStore:
    return FakeWalletStore(tables)


@pytest.fixture
def store() -> FakeAuditStore:
    return FakeAuditStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START + timedelta(minutes=1))


@pytest.fixture
def audit(store: FakeAuditStore, transactions: FakeWalletStore, clock: FakeClock) -> AuditService:
    return AuditService(store=store, transactions=transactions, clock=clock)


def by_kind(records: list[AuditRecord]) -> dict[str, AuditRecord]:
    return {record.kind: record for record in records}


# ---------------------------------------------------------------- balance checks
def test_balance_changes_matching_their_transaction_verify(audit: AuditService, event: Events, clock: FakeClock) -> None:
    # Given a transfer of ₹250 and both balance changes it made, in one batch, in any order
    batch = [
        event(debit(BOB, 5_000, 30_000)),
        event(TransactionCreated(transaction=transfer())),
        event(debit(ALICE, 100_000, 75_000)),
    ]
    # When they are recorded
    records = by_kind(audit.record_all(batch))
    # Then both sides verify against the transaction
    debited, credited = records["account_debited"], records["account_credited"]
    assert (debited.verified, debited.mismatch, debited.subject.id) == (True, None, ALICE.user_id)
    assert (credited.verified, credited.mismatch, credited.subject.id) == (True, None, BOB.user_id)
    assert debited.details == {
        "user_id": ALICE.user_id,
        "reference_id": REF,
        "old_balance": 100_000,
        "new_balance": 75_000,
        "amount": 25_000,
    }
    # And the transaction itself is recorded, unverified (there is nothing to check it against)
    created = records["transaction_created"]
    assert (created.subject.kind, created.subject.id, created.verified) == ("transaction", REF, None)
    assert {record.recorded_at for record in records.values()} == {clock.now}
    assert [record.event_id for record in (credited, created, debited)] == ["event-1", "event-2", "event-3"]


@pytest.mark.parametrize(
    ("change", "txn", "why"),
    [
        (debit(ALICE, 100_000, 70_000), transfer(), "does not match"),
        (debit(BOB, 5_000, 6_000), transfer(), "does not match"),
        (debit(BOB, 30_000, 5_000), transfer(), "does not match"),
        (debit(ALICE, 100_000, 75_000), transfer(status="FAILED"), "FAILED"),
        (debit(ALICE, 100_000, 75_000, reference_id="dddddddd-dddd-4ddd-8ddd-dddddddddddd"), transfer(), "no known transaction"),
        (debit(ALICE, 100_000, 75_000, reference_id=None), transfer(), "no known transaction"),
        (debit(ALICE, 100_000, 75_000, previous=REF), transfer(), "without a new transaction"),
    ],
    ids=[
        "wrong-amount",
        "short-credit",
        "receiver-debited",
        "failed-transaction",
        "unknown-transaction",
        "no-reference",
        "same-reference",
    ],
)
def test_a_balance_change_that_does_not_match_is_flagged(
    audit: AuditService, event: Events, change: BalanceChanged, txn: TransactionRecord, why: str
) -> None:
    records = audit.record_all([event(TransactionCreated(transaction=txn)), event(change)])
    (flagged,) = (record for record in records if record.kind.startswith("account_"))
    assert flagged.verified is False
    assert flagged.mismatch is not None
    assert why in flagged.mismatch


def test_an_account_opened_with_its_welcome_credit_verifies_and_an_empty_one_needs_no_check(
    audit: AuditService, event: Events
) -> None:
    credit = TransactionRecord(
        reference_id=REF,
        kind="WELCOME_CREDIT",
        status="SUCCESS",
        sender=SYSTEM_PARTY,
        receiver=ALICE,
        amount=25_000,
        created_at=START,
    )
    records = audit.record_all(
        [
            event(TransactionCreated(transaction=credit)),
            event(AccountOpened(user_id=ALICE.user_id, balance=25_000, reference_id=REF)),
            event(AccountOpened(user_id=SYSTEM_PARTY.user_id, balance=-25_000, reference_id=REF)),
            event(AccountOpened(user_id=BOB.user_id, balance=0, reference_id=None)),
        ]
    )
    opened = {record.subject.id: record for record in records if record.kind == "account_opened"}
    assert {user: (record.verified, record.mismatch) for user, record in opened.items()} == {
        ALICE.user_id: (True, None),
        SYSTEM_PARTY.user_id: (True, None),
        BOB.user_id: (True, None),
    }


def test_an_account_opened_with_money_from_nowhere_is_flagged(audit: AuditService, event: Events) -> None:
    (record,) = audit.record_all([event(AccountOpened(user_id=BOB.user_id, balance=1_000_000, reference_id=None))])
    assert record.verified is False


# ---------------------------------------------------------------- reading transactions
def test_a_transaction_outside_the_batch_is_read_once_from_the_table(
    audit: AuditService, event: Events, tables: Tables, transactions: FakeWalletStore
) -> None:
    # Given a transfer already in the table, whose balance changes arrive without it
    tables.put_transaction(transfer(reference_id=STORED_REF))
    batch = [
        event(debit(ALICE, 100_000, 75_000, reference_id=STORED_REF)),
        event(debit(BOB, 5_000, 30_000, reference_id=STORED_REF)),
    ]
    records = audit.record_all(batch)
    # Then it is read once, and both changes verify against it
    assert transactions.transaction_reads == [{STORED_REF}]
    assert [record.verified for record in records] == [True, True]


def test_transactions_in_the_batch_are_not_read_again(
    audit: AuditService, event: Events, tables: Tables, transactions: FakeWalletStore
) -> None:
    # Given a batch carrying one transaction with its balance changes, and a change naming another
    tables.put_transaction(transfer(reference_id=STORED_REF))
    batch = [
        event(debit(ALICE, 100_000, 75_000)),
        event(TransactionCreated(transaction=transfer())),
        event(debit(BOB, 5_000, 30_000)),
        event(debit(ALICE, 75_000, 50_000, reference_id=STORED_REF, previous=REF)),
    ]
    records = audit.record_all(batch)
    # Then only the other one is read from the table
    assert transactions.transaction_reads == [{STORED_REF}]
    assert all(record.verified for record in records if record.kind.startswith("account_"))


def test_a_batch_that_carries_its_transactions_reads_none(
    audit: AuditService, event: Events, transactions: FakeWalletStore
) -> None:
    audit.record_all([event(TransactionCreated(transaction=transfer())), event(debit(ALICE, 100_000, 75_000))])
    assert all(not asked for asked in transactions.transaction_reads)


# ---------------------------------------------------------------- redelivery
def test_a_redelivered_batch_is_not_recorded_or_returned_twice(audit: AuditService, event: Events, store: FakeAuditStore) -> None:
    # Given a batch recorded once
    batch = [
        event(TransactionCreated(transaction=transfer())),
        event(debit(ALICE, 100_000, 75_000)),
        event(debit(ALICE, 75_000, 70_000)),
    ]
    first = audit.record_all(batch)
    assert len(first) == 3
    assert sum(1 for record in first if record.verified is False) == 1
    # When the stream delivers it again, with one new event
    again = audit.record_all([*batch, event(UserRegistered(user_id=BOB.user_id))])
    # Then only the new event is returned (the mismatch is not reported twice), and each is stored once
    assert [record.kind for record in again] == ["user_registered"]
    assert sorted(store.records) == ["event-1", "event-2", "event-3", "event-4"]


# ---------------------------------------------------------------- other changes
@pytest.mark.parametrize(
    ("change", "kind", "details"),
    [
        (UserRegistered(user_id=ALICE.user_id), "user_registered", {"user_id": ALICE.user_id}),
        (
            AadhaarRevealed(user_id=ALICE.user_id, request_id="request-1", at=START),
            "aadhaar_revealed",
            {"user_id": ALICE.user_id, "request_id": "request-1"},
        ),
        (
            RefreshFamilyRevoked(user_id=ALICE.user_id, family_id="family-1", reason="logout"),
            "refresh_family_revoked",
            {"user_id": ALICE.user_id, "family_id": "family-1", "reason": "logout"},
        ),
    ],
    ids=["registered", "revealed", "revoked"],
)
def test_other_changes_are_recorded_about_their_user(
    audit: AuditService, event: Events, change: Change, kind: str, details: dict[str, str]
) -> None:
    (record,) = audit.record_all([event(change)])
    assert (record.kind, record.subject.kind, record.subject.id, record.details) == (kind, "user", ALICE.user_id, details)
    assert record.verified is None
