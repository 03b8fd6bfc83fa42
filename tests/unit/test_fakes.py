"""The fakes keep the adapters' contracts: the logic tests are only worth what the fakes are.

Each Protocol's methods are matched, parameter by parameter, by its fake (mypy checks the types,
in ``fakes.py``; the logic passes some arguments by keyword, so the names must agree too).
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import pytest

from tests.unit import fakes
from tests.unit.fakes import (
    FakeDataKeys,
    FakeTokenStore,
    FakeUserStore,
    FakeWalletStore,
    StoredGrant,
    StoreRejected,
    Tables,
)
from vaultpay.audit.ports import AuditStore, TransactionLookup
from vaultpay.core.errors import (
    AadhaarAlreadyRegistered,
    BalanceChanged,
    DailyLimitExceeded,
    DuplicateTransaction,
    EmailAlreadyRegistered,
    InsufficientFunds,
    InvalidRefreshToken,
    ReceiverNotFound,
    RefreshTokenReused,
    StepUpRequired,
    UserNotFound,
    VaultIntegrityError,
)
from vaultpay.core.grants import GrantUse
from vaultpay.core.records import PartyRef, TransactionRecord
from vaultpay.identity.models import NewUser
from vaultpay.identity.ports import AttemptStore, TokenStore, UserStore
from vaultpay.vault.models import SealedAadhaar
from vaultpay.vault.ports import DataKeyProvider, ProfileReader, RevealLog, SealedStore, StepUpStore
from vaultpay.wallet.models import SendingDay
from vaultpay.wallet.ports import WalletStore

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ALICE = PartyRef(user_id="alice-id", email="alice@example.com", full_name="Alice")
BOB = PartyRef(user_id="bob-id", email="bob@example.com", full_name="Bob")

PORTS: list[tuple[type, type]] = [
    (WalletStore, fakes.FakeWalletStore),
    (TransactionLookup, fakes.FakeWalletStore),
    (UserStore, fakes.FakeUserStore),
    (ProfileReader, fakes.FakeUserStore),
    (TokenStore, fakes.FakeTokenStore),
    (AttemptStore, fakes.FakeAttemptStore),
    (DataKeyProvider, fakes.FakeDataKeys),
    (SealedStore, fakes.FakeVaultStore),
    (RevealLog, fakes.FakeRevealLog),
    (StepUpStore, fakes.FakeStepUpStore),
    (AuditStore, fakes.FakeAuditStore),
]


def _methods(port: type) -> list[str]:
    return [name for name, member in vars(port).items() if inspect.isfunction(member) and not name.startswith("_")]


@pytest.mark.parametrize(("port", "fake"), PORTS, ids=lambda value: value.__name__)
def test_every_fake_has_its_ports_methods_with_the_same_parameters(port: type, fake: type) -> None:
    methods = _methods(port)
    assert methods
    for name in methods:
        expected = [(p.name, p.kind) for p in inspect.signature(getattr(port, name)).parameters.values()]
        actual = [(p.name, p.kind) for p in inspect.signature(getattr(fake, name)).parameters.values()]
        assert actual == expected, f"{fake.__name__}.{name}"


# ---------------------------------------------------------------- wallet
def txn(
    reference_id: str = "ref-1", amount: int = 1_000, sender: PartyRef = ALICE, receiver: PartyRef = BOB
) -> TransactionRecord:
    return TransactionRecord(
        reference_id=reference_id,
        kind="TRANSFER",
        status="SUCCESS",
        sender=sender,
        receiver=receiver,
        amount=amount,
        created_at=NOW,
    )


@pytest.fixture
def tables() -> Tables:
    tables = Tables()
    tables.open_account(ALICE, 1_500)
    tables.open_account(BOB, 0)
    return tables


DAY = SendingDay(day="2026-11-24", limit=10_000, resets_at=datetime(2026, 11, 24, 18, 30, tzinfo=UTC))


def test_commit_transfer_is_all_or_nothing_and_refuses_like_the_adapter(tables: Tables) -> None:
    store = FakeWalletStore(tables)
    store.commit_transfer(txn(), DAY, None, 1_500)
    assert (store.get_balance(ALICE.user_id), store.get_balance(BOB.user_id)) == ((500, 2), (1_000, 2))
    after_one = tables.snapshot()
    # The reference already exists: DuplicateTransaction, even though the funds are now short too (precedence)
    with pytest.raises(DuplicateTransaction):
        store.commit_transfer(txn(), DAY, None, 500)
    with pytest.raises(InsufficientFunds) as short:
        store.commit_transfer(txn("ref-2"), DAY, None, 500)
    assert short.value.reference_id == "ref-2"
    with pytest.raises(UserNotFound):
        store.commit_transfer(
            txn("ref-3", sender=PartyRef(user_id="gone", email="gone@example.com", full_name="G")), DAY, None, 500
        )
    with pytest.raises(ReceiverNotFound):
        store.commit_transfer(
            txn("ref-4", amount=100, receiver=PartyRef(user_id="gone", email="gone@example.com", full_name="G")), DAY, None, 500
        )
    with pytest.raises(StoreRejected):
        store.commit_transfer(txn("ref-5", amount=100, receiver=ALICE), DAY, None, 500)
    assert tables.snapshot() == after_one


def test_commit_transfer_refuses_a_balance_other_than_the_expected_one_and_says_which(tables: Tables) -> None:
    # Given the sender's balance is 1,500, and the transfer expects 1,200 (a stale guess), or 1,500 but is a retry
    store = FakeWalletStore(tables)
    before = tables.snapshot()
    # Then BalanceChanged says what it is, nothing is written
    with pytest.raises(BalanceChanged) as changed:
        store.commit_transfer(txn(amount=100), DAY, None, 1_200)
    assert changed.value.balance == 1_500
    assert tables.snapshot() == before
    # And with the balance it is, the transfer commits
    store.commit_transfer(txn(amount=100), DAY, None, 1_500)
    assert tables.balance_of(ALICE.user_id) == 1_400
    # And a duplicate comes before a changed balance (precedence 0 < 3)
    with pytest.raises(DuplicateTransaction):
        store.commit_transfer(txn(amount=100), DAY, None, 1_200)


def test_commit_transfer_keeps_the_days_counter_and_spends_the_grant_like_the_adapter(tables: Tables) -> None:
    store = FakeWalletStore(tables)
    tables.grants[(ALICE.user_id, "hash")] = StoredGrant(
        user_id=ALICE.user_id, session_id="s1", expires_at=100, method="password"
    )
    # A grant of another session, or expired, refuses the whole transaction (before the limit, precedence 1)
    for refused in (GrantUse("hash", "s2", 50), GrantUse("hash", "s1", 100)):
        with pytest.raises(StepUpRequired):
            store.commit_transfer(txn(amount=20_000), DAY, refused, 1_500)
    assert tables.daily_sent == {}
    # Within the limit: the counter grows and the grant is spent, with the money
    store.commit_transfer(txn(amount=1_000), DAY, GrantUse("hash", "s1", 50), 1_500)
    assert (tables.daily_sent, tables.grants) == ({(ALICE.user_id, DAY.day): 1_000}, {})
    # Past it: DailyLimitExceeded saying what remains (before insufficient funds, precedence 2 < 3), nothing written
    before = tables.snapshot()
    with pytest.raises(DailyLimitExceeded) as limited:
        store.commit_transfer(txn("ref-2", amount=9_001), DAY, None, 500)
    assert limited.value.remaining == 9_000
    assert tables.snapshot() == before


def test_a_failed_transfer_is_recorded_once_without_moving_money(tables: Tables) -> None:
    store = FakeWalletStore(tables)
    failed = txn().model_copy(update={"status": "FAILED", "failure_reason": "insufficient-funds"})
    store.record_failed_transfer(failed)
    store.record_failed_transfer(failed.model_copy(update={"note": "again"}))
    assert store.get_transaction("ref-1") == failed
    assert (tables.balance_of(ALICE.user_id), tables.balance_of(BOB.user_id)) == (1_500, 0)
    assert [entry.direction for entry in store.history(ALICE.user_id, None, 10, None)[0]] == ["sent"]
    assert store.history(BOB.user_id, None, 10, None) == ([], None)


# ---------------------------------------------------------------- identity
def new_user(user_id: str, email: str) -> NewUser:
    return NewUser(
        user_id=user_id, email=email, full_name="X", password_hash="$argon2id$...", aadhaar_last4="2346", created_at=NOW
    )


SEALED = SealedAadhaar(key_id="k", wrapped_key=b"w", nonce=b"n" * 12, ciphertext=b"c")


def test_a_second_email_or_aadhaar_index_is_refused_and_writes_nothing() -> None:
    tables = Tables()
    users = FakeUserStore(tables)
    users.create_user(new_user("u1", "a@example.com"), SEALED, "index-1", None)
    before = tables.snapshot()
    with pytest.raises(EmailAlreadyRegistered):
        users.create_user(new_user("u2", "a@example.com"), SEALED, "index-2", None)
    with pytest.raises(AadhaarAlreadyRegistered):
        users.create_user(new_user("u2", "b@example.com"), SEALED, "index-1", None)
    with pytest.raises(EmailAlreadyRegistered):  # both taken: the e-mail guard's error wins, as in the adapter
        users.create_user(new_user("u2", "a@example.com"), SEALED, "index-1", None)
    assert tables.snapshot() == before
    profile = users.find_by_email("a@example.com")
    assert profile is not None
    assert profile.user_id == "u1"


def test_rotate_refuses_a_spent_token_and_a_revoked_family_and_writes_nothing() -> None:
    store = FakeTokenStore()
    store.create_family("f1", "u1", "h1", 100, int(NOW.timestamp()) + 3600, NOW)
    first = store.get("h1")
    assert first is not None
    store.rotate(first, "h2", 200, NOW)
    with pytest.raises(RefreshTokenReused):
        store.rotate(first, "h3", 300, NOW)
    second = store.get("h2")
    assert second is not None
    store.revoke_family("f1", "logout", NOW)
    store.revoke_family("f1", "again", NOW)
    assert store.families["f1"].revoked_reason == "logout"
    with pytest.raises(InvalidRefreshToken):
        store.rotate(second, "h3", 300, NOW)
    with pytest.raises(RefreshTokenReused):  # spent and revoked: the reuse wins, as in the adapter
        store.rotate(first, "h3", 300, NOW)
    assert "h3" not in store.tokens
    assert store.get("h2") == second


# ---------------------------------------------------------------- vault
def test_data_keys_are_really_wrapped_and_bound_to_their_context() -> None:
    keys = FakeDataKeys()
    context = {"purpose": "aadhaar", "user_id": "u1"}
    data_key = keys.generate(context)
    assert data_key.plaintext not in data_key.wrapped
    assert keys.unwrap(data_key.key_id, data_key.wrapped, dict(reversed(context.items()))) == data_key.plaintext
    for key_id, wrapped, other in [
        (data_key.key_id, data_key.wrapped, {"purpose": "aadhaar", "user_id": "u2"}),
        ("arn:aws:kms:ap-south-1:111122223333:key/another", data_key.wrapped, context),
        (data_key.key_id, data_key.wrapped[:-1] + bytes([data_key.wrapped[-1] ^ 1]), context),
        (data_key.key_id, b"short", context),
    ]:
        with pytest.raises(VaultIntegrityError):
            keys.unwrap(key_id, wrapped, other)
