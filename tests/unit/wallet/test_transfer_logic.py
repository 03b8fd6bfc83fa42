"""The wallet's logic against the in-memory store: exactly-once transfers, history and detail."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.unit.fakes import FakeClock, FakeWalletStore, Tables
from vaultpay.core.errors import (
    AmountAboveLimit,
    ConcurrentUpdate,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidCursor,
    MalformedIdempotencyKey,
    MissingIdempotencyKey,
    ReceiverNotFound,
    SelfTransfer,
    TransactionNotFound,
    UserNotFound,
)
from vaultpay.core.grants import GrantUse
from vaultpay.core.records import Direction, PartyRef, TransactionRecord
from vaultpay.wallet.logic import FAILED_INSUFFICIENT_FUNDS, WalletService, encode_cursor, reference_for, validate_idempotency_key
from vaultpay.wallet.models import Party, SendingDay, TransferRequest

ALICE = PartyRef(user_id="11111111-1111-4111-8111-111111111111", email="alice@example.com", full_name="Alice Rao")
BOB = PartyRef(user_id="22222222-2222-4222-8222-222222222222", email="bob@example.com", full_name="Bob Iyer")
CAROL = PartyRef(user_id="33333333-3333-4333-8333-333333333333", email="carol@example.com", full_name="Carol Das")
MAX_TRANSFER = 500_000  # ₹5,000.00


def send(amount: str, to: PartyRef = BOB, note: str | None = None) -> TransferRequest:
    """A transfer request as the API validates it (amounts in rupees on the wire)."""
    body: dict[str, Any] = {"receiver_email": to.email, "amount": amount}
    if note is not None:
        body["note"] = note
    return TransferRequest.model_validate(body)


@pytest.fixture
def tables() -> Tables:
    tables = Tables()
    tables.open_account(ALICE, 1_000_000)  # ₹10,000.00
    tables.open_account(BOB, 5_000)  # ₹50.00
    tables.open_account(CAROL, 0)
    return tables


@pytest.fixture
def store(tables: Tables) -> FakeWalletStore:
    return FakeWalletStore(tables)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wallet(store: FakeWalletStore, clock: FakeClock) -> WalletService:
    return WalletService(store=store, max_transfer_paise=MAX_TRANSFER, clock=clock)


# ---------------------------------------------------------------- transfer
def test_a_transfer_moves_money_and_returns_a_receipt_with_the_senders_new_balance(
    wallet: WalletService, tables: Tables, clock: FakeClock
) -> None:
    # Given Alice with ₹10,000 and Bob with ₹50
    # When Alice sends Bob ₹250.50 with a note
    outcome = wallet.transfer(ALICE.user_id, "key-00000001", send("250.50", note="  rent  "))
    # Then the money moved, once, and the receipt says so with Alice's new balance
    assert not outcome.replayed
    receipt = outcome.receipt
    assert receipt.reference_id == reference_for(ALICE.user_id, "key-00000001")
    assert (receipt.status, receipt.amount, receipt.balance) == ("SUCCESS", 25_050, 1_000_000 - 25_050)
    assert receipt.receiver == Party(email=BOB.email, full_name=BOB.full_name)
    assert receipt.note == "rent"
    assert receipt.created_at == clock.now
    assert tables.balance_of(ALICE.user_id) == 1_000_000 - 25_050
    assert tables.balance_of(BOB.user_id) == 5_000 + 25_050
    assert wallet.balance(ALICE.user_id).version == 2
    assert wallet.balance(BOB.user_id).version == 2
    assert tables.transactions[receipt.reference_id].status == "SUCCESS"


def test_the_same_key_from_two_senders_makes_two_transfers(wallet: WalletService, tables: Tables) -> None:
    # Given Alice and Bob who happen to pick the same Idempotency-Key
    first = wallet.transfer(ALICE.user_id, "key-00000001", send("10.00", to=CAROL))
    second = wallet.transfer(BOB.user_id, "key-00000001", send("10.00", to=CAROL))
    # Then they are two transfers, not a replay
    assert first.receipt.reference_id != second.receipt.reference_id
    assert not second.replayed
    assert tables.balance_of(CAROL.user_id) == 2_000


def test_a_retry_with_the_same_key_after_a_commit_replays_the_original_and_moves_nothing(
    wallet: WalletService, tables: Tables, clock: FakeClock
) -> None:
    # Given a committed transfer
    original = wallet.transfer(ALICE.user_id, "key-00000001", send("250.00", note="rent"))
    before = tables.snapshot()
    # When the same request is retried later (its idempotency record lost or expired)
    clock.advance(minutes=5)
    retried = wallet.transfer(ALICE.user_id, "key-00000001", send("250.00", note="rent"))
    # Then the original receipt comes back, marked as a replay, and nothing was written
    assert retried.replayed
    assert retried.receipt == original.receipt
    assert tables.snapshot() == before


def test_a_retry_replays_even_when_the_sender_could_no_longer_afford_it(wallet: WalletService, tables: Tables) -> None:
    # Given a committed transfer that left Alice with less than its amount
    original = wallet.transfer(ALICE.user_id, "key-00000001", send("5000.00"))
    wallet.transfer(ALICE.user_id, "key-00000002", send("4000.00"))
    assert tables.balance_of(ALICE.user_id) < 500_000
    before = tables.snapshot()
    # When the first is retried
    retried = wallet.transfer(ALICE.user_id, "key-00000001", send("5000.00"))
    # Then it is the original's replay, not an insufficient-funds failure
    assert retried.replayed
    assert retried.receipt.reference_id == original.receipt.reference_id
    assert tables.snapshot() == before


def test_a_replayed_receipt_carries_the_balance_right_after_the_original_transfer(wallet: WalletService) -> None:
    # Given a committed transfer, then another one
    original = wallet.transfer(ALICE.user_id, "key-00000001", send("100.00"))
    wallet.transfer(ALICE.user_id, "key-00000002", send("100.00"))
    # When the first is retried
    retried = wallet.transfer(ALICE.user_id, "key-00000001", send("100.00"))
    # Then its receipt is the original's (TransferReceipt.balance: "the sender's balance right after the transfer")
    assert retried.receipt.balance == original.receipt.balance


def test_a_stale_remembered_balance_is_corrected_and_the_receipt_is_exact(
    wallet: WalletService, store: FakeWalletStore, tables: Tables
) -> None:
    # Given the container remembers Alice at ₹9,000, but Bob paid her since: she has ₹10,000
    store.remember(ALICE.user_id, 900_000)
    # When she sends Carol ₹100
    outcome = wallet.transfer(ALICE.user_id, "key-00000001", send("100.00", to=CAROL))
    # Then it commits on the second try, and the receipt's balance is her real one right after
    assert store.commits == 2
    assert outcome.receipt.balance == tables.balance_of(ALICE.user_id) == 990_000
    # And her next transfer needs one try: the container now knows her balance
    wallet.transfer(ALICE.user_id, "key-00000002", send("100.00", to=CAROL))
    assert store.commits == 3
    assert tables.balance_of(ALICE.user_id) == 980_000


def test_a_stale_balance_that_hid_a_shortfall_records_the_failure(wallet: WalletService, store: FakeWalletStore) -> None:
    # Given the container remembers Carol with ₹500, but she has nothing
    store.remember(CAROL.user_id, 50_000)
    # When she sends Bob ₹10
    # Then it is refused for want of funds (after learning her real balance), and recorded as FAILED
    with pytest.raises(InsufficientFunds):
        wallet.transfer(CAROL.user_id, "key-00000001", send("10.00"))
    failed = store.get_transaction(reference_for(CAROL.user_id, "key-00000001"))
    assert failed is not None
    assert (failed.status, failed.sender_balance_after) == ("FAILED", None)


def test_a_balance_that_keeps_changing_is_a_concurrent_update(store: FakeWalletStore, clock: FakeClock, tables: Tables) -> None:
    # Given a sender whose balance changes before every try (a store that always sees another one)
    class Busy(FakeWalletStore):
        def commit_transfer(self, txn: TransactionRecord, day: SendingDay, step_up: GrantUse | None, sender_balance: int) -> None:
            account = self.tables.accounts[ALICE.user_id]  # a paisa lands each time
            self.tables.accounts[ALICE.user_id] = replace(
                account, record=account.record.model_copy(update={"balance": account.record.balance + 1})
            )
            super().commit_transfer(txn, day, step_up, sender_balance)

    wallet = WalletService(store=Busy(tables), max_transfer_paise=MAX_TRANSFER, clock=clock, balance_change_retries=2)
    before = tables.balance_of(ALICE.user_id)
    # When she sends Bob ₹1
    # Then after three tries it is a concurrent update, and nothing moved but the credits
    with pytest.raises(ConcurrentUpdate):
        wallet.transfer(ALICE.user_id, "key-00000001", send("1.00"))
    assert tables.balance_of(ALICE.user_id) == before + 3
    assert tables.balance_of(BOB.user_id) == 5_000


@pytest.mark.parametrize(
    "other",
    [send("250.01", note="rent"), send("250.00", to=CAROL, note="rent"), send("250.00", note="rent again"), send("250.00")],
    ids=["other-amount", "other-receiver", "other-note", "no-note"],
)
def test_the_same_key_with_another_body_is_refused(wallet: WalletService, tables: Tables, other: TransferRequest) -> None:
    # Given a committed transfer
    wallet.transfer(ALICE.user_id, "key-00000001", send("250.00", note="rent"))
    before = tables.snapshot()
    # When the key is used again for something else
    # Then it is refused and nothing moves
    with pytest.raises(IdempotencyKeyReused):
        wallet.transfer(ALICE.user_id, "key-00000001", other)
    assert tables.snapshot() == before


def test_insufficient_funds_records_a_failed_transaction_and_raises(wallet: WalletService, tables: Tables) -> None:
    # Given Carol with nothing
    # When she tries to send Bob ₹10
    with pytest.raises(InsufficientFunds) as refused:
        wallet.transfer(CAROL.user_id, "key-00000001", send("10.00"))
    # Then no money moved, and a FAILED transaction names the refusal
    reference = reference_for(CAROL.user_id, "key-00000001")
    assert refused.value.reference_id == reference
    assert tables.balance_of(CAROL.user_id) == 0
    assert tables.balance_of(BOB.user_id) == 5_000
    failed = tables.transactions[reference]
    assert (failed.status, failed.failure_reason) == ("FAILED", FAILED_INSUFFICIENT_FUNDS)
    # And it is in Carol's history and detail, not in Bob's
    carol_history = wallet.history(CAROL.user_id, limit=10, cursor=None, direction=None).results
    assert [(entry.reference_id, entry.status, entry.direction) for entry in carol_history] == [(reference, "FAILED", "sent")]
    assert wallet.history(BOB.user_id, limit=10, cursor=None, direction=None).results == []
    assert wallet.transaction(CAROL.user_id, reference).failure_reason == FAILED_INSUFFICIENT_FUNDS


def test_a_retry_of_a_failed_transfer_fails_again_and_records_nothing_more(wallet: WalletService, tables: Tables) -> None:
    with pytest.raises(InsufficientFunds):
        wallet.transfer(CAROL.user_id, "key-00000001", send("10.00"))
    # Even once Carol can afford it, the same key keeps the same (failed) outcome
    tables.open_account(CAROL, 100_000)
    before = tables.snapshot()
    with pytest.raises(InsufficientFunds):
        wallet.transfer(CAROL.user_id, "key-00000001", send("10.00"))
    assert tables.snapshot() == before


def test_a_balance_never_goes_below_zero(wallet: WalletService, tables: Tables) -> None:
    # Given Bob with ₹50, When he sends ₹30 twice, Then the second is refused
    wallet.transfer(BOB.user_id, "key-00000001", send("30.00", to=CAROL))
    with pytest.raises(InsufficientFunds):
        wallet.transfer(BOB.user_id, "key-00000002", send("30.00", to=CAROL))
    assert tables.balance_of(BOB.user_id) == 2_000
    # And exactly what is left can be sent
    wallet.transfer(BOB.user_id, "key-00000003", send("20.00", to=CAROL))
    assert tables.balance_of(BOB.user_id) == 0


@pytest.mark.parametrize(
    ("sender", "request_", "error"),
    [
        (ALICE, send("10.00", to=ALICE), SelfTransfer),
        (ALICE, send("10.00", to=PartyRef(user_id="x", email="nobody@example.com", full_name="X")), ReceiverNotFound),
        (ALICE, send("5000.01"), AmountAboveLimit),
        (
            PartyRef(user_id="44444444-4444-4444-8444-444444444444", email="gone@example.com", full_name="G"),
            send("1.00"),
            UserNotFound,
        ),
    ],
    ids=["self-transfer", "unknown-receiver", "above-max", "unknown-sender"],
)
def test_refused_transfers_write_nothing(
    wallet: WalletService, tables: Tables, sender: PartyRef, request_: TransferRequest, error: type[Exception]
) -> None:
    before = tables.snapshot()
    with pytest.raises(error):
        wallet.transfer(sender.user_id, "key-00000001", request_)
    assert tables.snapshot() == before


def test_the_maximum_itself_is_allowed(wallet: WalletService, tables: Tables) -> None:
    wallet.transfer(ALICE.user_id, "key-00000001", send("5000.00"))
    assert tables.balance_of(BOB.user_id) == 5_000 + MAX_TRANSFER


@pytest.mark.parametrize(
    ("key", "error"),
    [
        (None, MissingIdempotencyKey),
        ("  ", MissingIdempotencyKey),
        ("short", MalformedIdempotencyKey),
        ("has space in it", MalformedIdempotencyKey),
        ("x" * 129, MalformedIdempotencyKey),
    ],
)
def test_idempotency_keys_are_required_and_well_formed(key: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        validate_idempotency_key(key)


def test_a_well_formed_idempotency_key_is_accepted() -> None:
    assert validate_idempotency_key("order:2026-11-24_0001") == "order:2026-11-24_0001"


# ---------------------------------------------------------------- history
@pytest.fixture
def busy_alice(wallet: WalletService, clock: FakeClock) -> list[str]:
    """Given five transfers from Alice and one to her, a second apart: their references, newest first."""
    references = []
    for n, to in enumerate([BOB, CAROL, BOB, CAROL, BOB]):
        references.append(wallet.transfer(ALICE.user_id, f"key-0000000{n}", send(f"{n + 1}.00", to=to)).receipt.reference_id)
        clock.advance(seconds=1)
    references.append(wallet.transfer(BOB.user_id, "key-from-bob", send("1.00", to=ALICE)).receipt.reference_id)
    return references[::-1]


def all_pages(wallet: WalletService, user_id: str, limit: int, direction: Direction | None) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = wallet.history(user_id, limit=limit, cursor=cursor, direction=direction)
        pages.append([entry.reference_id for entry in page.results])
        cursor = page.next_cursor
        if cursor is None:
            return pages


def test_history_pages_through_everything_newest_first(wallet: WalletService, busy_alice: list[str]) -> None:
    # When Alice reads her history two at a time
    pages = all_pages(wallet, ALICE.user_id, limit=2, direction=None)
    # Then she sees every entry once, newest first, in full pages
    assert pages == [busy_alice[0:2], busy_alice[2:4], busy_alice[4:6]]


def test_history_filters_by_direction(wallet: WalletService, busy_alice: list[str]) -> None:
    received = wallet.history(ALICE.user_id, limit=10, cursor=None, direction="received")
    assert [(entry.reference_id, entry.counterparty.email) for entry in received.results] == [(busy_alice[0], BOB.email)]
    assert received.next_cursor is None
    sent_pages = all_pages(wallet, ALICE.user_id, limit=3, direction="sent")
    assert sent_pages == [busy_alice[1:4], busy_alice[4:6]]


def test_a_cursor_from_another_direction_is_refused(wallet: WalletService, busy_alice: list[str]) -> None:
    # Given a cursor of Alice's sent history
    cursor = wallet.history(ALICE.user_id, limit=1, cursor=None, direction="sent").next_cursor
    assert cursor is not None
    # Then it is refused for her full history and her received history
    for other in (None, "received"):
        with pytest.raises(InvalidCursor):
            wallet.history(ALICE.user_id, limit=1, cursor=cursor, direction=other)


@pytest.mark.parametrize(
    "cursor",
    ["not-a-cursor!", "eyJwIjoxfQ", encode_cursor("USER#someone-else", None), encode_cursor("2026-11-24T10:00:00Z#x", None)],
    ids=["not-base64", "not-a-position", "a-key-not-a-position", "malformed-position"],
)
def test_a_forged_cursor_is_refused(wallet: WalletService, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        wallet.history(ALICE.user_id, limit=1, cursor=cursor, direction=None)


def test_a_cursor_never_reads_another_users_history(wallet: WalletService, busy_alice: list[str]) -> None:
    # Given a cursor from Alice's history, When Bob presents it, Then he reads only his own entries
    cursor = wallet.history(ALICE.user_id, limit=1, cursor=None, direction=None).next_cursor
    bobs = {entry.reference_id for entry in wallet.history(BOB.user_id, limit=50, cursor=None, direction=None).results}
    page = wallet.history(BOB.user_id, limit=50, cursor=cursor, direction=None)
    assert {entry.reference_id for entry in page.results} <= bobs


# ---------------------------------------------------------------- transaction detail
def test_a_transaction_is_shown_to_its_two_parties_only(wallet: WalletService) -> None:
    reference = wallet.transfer(ALICE.user_id, "key-00000001", send("12.34", note="tea")).receipt.reference_id
    as_sender = wallet.transaction(ALICE.user_id, reference)
    as_receiver = wallet.transaction(BOB.user_id, reference)
    assert (as_sender.direction, as_receiver.direction) == ("sent", "received")
    assert as_sender.model_dump(exclude={"direction"}) == as_receiver.model_dump(exclude={"direction"})
    assert (as_sender.amount, as_sender.note, as_sender.sender.email, as_sender.receiver.email) == (
        1_234,
        "tea",
        ALICE.email,
        BOB.email,
    )
    with pytest.raises(TransactionNotFound):
        wallet.transaction(CAROL.user_id, reference)


def test_a_failed_transaction_is_shown_to_its_sender_only(wallet: WalletService) -> None:
    with pytest.raises(InsufficientFunds) as refused:
        wallet.transfer(CAROL.user_id, "key-00000001", send("10.00"))
    reference = refused.value.reference_id
    assert reference is not None
    assert wallet.transaction(CAROL.user_id, reference).status == "FAILED"
    with pytest.raises(TransactionNotFound):
        wallet.transaction(BOB.user_id, reference)


@pytest.mark.parametrize("reference", ["99999999-9999-4999-8999-999999999999", "not-a-reference", "USER#x"])
def test_an_unknown_transaction_is_not_found(wallet: WalletService, reference: str) -> None:
    with pytest.raises(TransactionNotFound):
        wallet.transaction(ALICE.user_id, reference)


# ---------------------------------------------------------------- balance
def test_the_balance_and_its_version(wallet: WalletService) -> None:
    balance = wallet.balance(ALICE.user_id)
    assert (balance.balance, balance.version, balance.currency) == (1_000_000, 1, "INR")
    with pytest.raises(UserNotFound):
        wallet.balance("nobody")
