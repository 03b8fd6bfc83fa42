"""The wallet's daily sending limit and step-up threshold, against the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.unit.fakes import FakeClock, FakeWalletStore, StoredGrant, Tables
from tests.unit.wallet.test_transfer_logic import ALICE, BOB, send
from vaultpay.core.errors import DailyLimitExceeded, StepUpRequired
from vaultpay.core.grants import hash_grant, new_grant
from vaultpay.wallet.logic import WalletService, sending_day

LIMIT = 5_000_000  # ₹50,000.00 a day
THRESHOLD = 1_000_000  # ₹10,000.00
SESSION = "session-1"


@pytest.fixture
def tables() -> Tables:
    tables = Tables()
    tables.open_account(ALICE, 20_000_000)  # ₹2,00,000.00
    tables.open_account(BOB, 0)
    return tables


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))  # 15:30 IST


@pytest.fixture
def wallet(tables: Tables, clock: FakeClock) -> WalletService:
    return WalletService(
        store=FakeWalletStore(tables),
        max_transfer_paise=10_000_000,
        clock=clock,
        daily_limit_paise=LIMIT,
        step_up_threshold_paise=THRESHOLD,
    )


def grant_for(tables: Tables, session_id: str = SESSION, expires_at: int | None = None) -> str:
    """Given a step-up grant stored as the vault's step-up would store it."""
    grant = new_grant()
    expiry = expires_at if expires_at is not None else int(datetime(2026, 11, 24, 10, 5, tzinfo=UTC).timestamp())
    tables.grants[(ALICE.user_id, hash_grant(grant))] = StoredGrant(ALICE.user_id, session_id, expiry, "password")
    return grant


def test_the_day_is_the_calendar_day_in_ist() -> None:
    # 18:29 UTC is 23:59 IST; 18:30 UTC is the next day's midnight in IST
    before = sending_day(datetime(2026, 11, 24, 18, 29, tzinfo=UTC), LIMIT)
    after = sending_day(datetime(2026, 11, 24, 18, 30, tzinfo=UTC), LIMIT)
    assert (before.day, after.day) == ("2026-11-24", "2026-11-25")
    assert before.resets_at == datetime(2026, 11, 24, 18, 30, tzinfo=UTC)


def test_transfers_add_up_to_the_limit_and_the_next_one_is_refused_with_what_remains(
    wallet: WalletService, tables: Tables
) -> None:
    # Given Alice has sent ₹45,000 today in small transfers
    for number in range(9):
        wallet.transfer(ALICE.user_id, f"key-small-{number:04}", send("5000.00"))
    assert wallet.limits(ALICE.user_id).remaining_today == 500_000
    before = tables.snapshot()
    # When she tries ₹5,000.01
    with pytest.raises(DailyLimitExceeded) as refused:
        wallet.transfer(ALICE.user_id, "key-over-0001", send("5000.01"))
    # Then it is refused, saying ₹5,000 remains until midnight IST, and nothing is written (no FAILED record)
    assert (refused.value.limit, refused.value.remaining) == (LIMIT, 500_000)
    assert refused.value.resets_at == datetime(2026, 11, 24, 18, 30, tzinfo=UTC)
    assert tables.snapshot() == before
    # And exactly what remains still goes through
    wallet.transfer(ALICE.user_id, "key-exact-0001", send("5000.00"))
    assert wallet.limits(ALICE.user_id).remaining_today == 0


def test_the_limit_starts_afresh_on_the_next_day_in_ist(wallet: WalletService, clock: FakeClock) -> None:
    for number in range(10):
        wallet.transfer(ALICE.user_id, f"key-day1-{number:04}", send("5000.00"))
    with pytest.raises(DailyLimitExceeded):
        wallet.transfer(ALICE.user_id, "key-day1-more", send("1.00"))
    clock.now = datetime(2026, 11, 24, 18, 30, tzinfo=UTC)  # midnight IST
    wallet.transfer(ALICE.user_id, "key-day2-0001", send("1.00"))
    assert wallet.limits(ALICE.user_id).sent_today == 100


def test_a_refused_insufficient_funds_transfer_does_not_count_toward_the_limit(wallet: WalletService, tables: Tables) -> None:
    tables.open_account(ALICE, 100)  # ₹1.00
    with pytest.raises(Exception, match="balance is too low"):
        wallet.transfer(ALICE.user_id, "key-poor-0001", send("500.00"))
    assert wallet.limits(ALICE.user_id).sent_today == 0


def test_above_the_threshold_without_a_grant_step_up_is_required_and_nothing_is_written(
    wallet: WalletService, tables: Tables
) -> None:
    before = tables.snapshot()
    with pytest.raises(StepUpRequired) as required:
        wallet.transfer(ALICE.user_id, "key-large-0001", send("10000.01"), session_id=SESSION)
    assert required.value.threshold == THRESHOLD
    assert tables.snapshot() == before
    # At the threshold itself, no step-up is needed
    wallet.transfer(ALICE.user_id, "key-at-threshold", send("10000.00"), session_id=SESSION)


def test_a_grant_of_the_session_lets_one_large_transfer_through_and_is_spent(wallet: WalletService, tables: Tables) -> None:
    grant = grant_for(tables)
    outcome = wallet.transfer(ALICE.user_id, "key-large-0001", send("20000.00"), session_id=SESSION, step_up_grant=grant)
    assert outcome.receipt.status == "SUCCESS"
    assert tables.grants == {}
    # The same grant cannot serve a second transfer
    before = tables.snapshot()
    with pytest.raises(StepUpRequired):
        wallet.transfer(ALICE.user_id, "key-large-0002", send("20000.00"), session_id=SESSION, step_up_grant=grant)
    assert tables.snapshot() == before


def test_a_grant_from_another_session_is_refused(wallet: WalletService, tables: Tables) -> None:
    # Given a grant earned in another session (stolen, or replayed from another device)
    grant = grant_for(tables, session_id="session-of-the-owner")
    before = tables.snapshot()
    # When a transfer in this session presents it
    with pytest.raises(StepUpRequired):
        wallet.transfer(ALICE.user_id, "key-large-0001", send("20000.00"), session_id="session-2", step_up_grant=grant)
    # Then it is refused, the grant is not spent and nothing is written
    assert tables.snapshot() == before


def test_an_expired_grant_is_refused(wallet: WalletService, tables: Tables, clock: FakeClock) -> None:
    grant = grant_for(tables, expires_at=int(clock.now.timestamp()))
    with pytest.raises(StepUpRequired):
        wallet.transfer(ALICE.user_id, "key-large-0001", send("20000.00"), session_id=SESSION, step_up_grant=grant)


def test_a_retry_with_the_same_key_after_stepping_up_is_the_same_payment(wallet: WalletService, tables: Tables) -> None:
    # Given a large transfer refused for step-up
    with pytest.raises(StepUpRequired):
        wallet.transfer(ALICE.user_id, "key-large-0001", send("20000.00"), session_id=SESSION)
    # When it is retried with the same key and a grant
    first = wallet.transfer(
        ALICE.user_id, "key-large-0001", send("20000.00"), session_id=SESSION, step_up_grant=grant_for(tables)
    )
    # Then it goes through once; a second retry (a fresh grant) is answered with the original
    again = wallet.transfer(
        ALICE.user_id, "key-large-0001", send("20000.00"), session_id=SESSION, step_up_grant=grant_for(tables)
    )
    assert again.replayed
    assert again.receipt.reference_id == first.receipt.reference_id
    assert tables.balance_of(BOB.user_id) == 2_000_000
