"""The vault's logic: envelope encryption under a (fake, but really wrapping) KMS, the blind index,
and the owner-only reveal behind the password."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.fakes import (
    FakeAttemptStore,
    FakeClock,
    FakeDataKeys,
    FakeIndexMac,
    FakeRevealLog,
    FakeUserStore,
    FakeVaultStore,
    Tables,
)
from vaultpay.core.aadhaar import verhoeff_check_digit
from vaultpay.core.errors import AccountLocked, StepUpFailed, UserNotFound, VaultEntryNotFound, VaultIntegrityError
from vaultpay.identity.lockout import LoginGuard, LoginLimits
from vaultpay.identity.models import NewUser
from vaultpay.vault.logic import VaultService, aadhaar_index, encryption_context, open_aadhaar, seal_aadhaar
from vaultpay.vault.models import RevealAadhaarRequest
from vaultpay.vault.ports import DataKeyProvider

PASSWORD = "correct horse battery staple"
ASHA, RAVI = "asha-id", "ravi-id"
ASHA_AADHAAR = "234123412346"
RAVI_AADHAAR = "23412341235" + verhoeff_check_digit("23412341235")
MAX_FAILURES = 3
CLIENT = "203.0.113.7"
REVEAL_TTL = 3600


@pytest.fixture
def data_keys() -> FakeDataKeys:
    return FakeDataKeys()


@pytest.fixture
def reveals(tables: Tables) -> FakeRevealLog:
    return FakeRevealLog(tables)


def register(
    tables: Tables, data_keys: DataKeyProvider, user_id: str, aadhaar: str, password_hash: str, clock: FakeClock
) -> None:
    """Given a user registered as the identity service registers one (its number sealed for them)."""
    user = NewUser(
        user_id=user_id,
        email=f"{user_id}@example.com",
        full_name=user_id,
        password_hash=password_hash,
        aadhaar_last4=aadhaar[-4:],
        created_at=clock(),
    )
    FakeUserStore(tables).create_user(
        user, seal_aadhaar(aadhaar, user_id, data_keys), aadhaar_index(aadhaar, FakeIndexMac()), None
    )


@pytest.fixture
def vault(
    tables: Tables,
    data_keys: FakeDataKeys,
    reveals: FakeRevealLog,
    failures: FakeAttemptStore,
    clock: FakeClock,
    password_hash: str,
) -> VaultService:
    register(tables, data_keys, ASHA, ASHA_AADHAAR, password_hash, clock)
    register(tables, data_keys, RAVI, RAVI_AADHAAR, password_hash, clock)
    return VaultService(
        profiles=FakeUserStore(tables),
        reveals=reveals,
        sealed=FakeVaultStore(tables),
        data_keys=data_keys,
        login_guard=LoginGuard(
            store=failures,
            limits=LoginLimits(
                free_failures=MAX_FAILURES,
                base_delay_seconds=1,
                max_delay_seconds=300,
                pair_max_failures=MAX_FAILURES,
                address_max_failures=20,
                window_seconds=900,
            ),
            clock=clock,
        ),
        clock=clock,
        reveal_event_ttl_seconds=REVEAL_TTL,
    )


def step_up(password: str = PASSWORD) -> RevealAadhaarRequest:
    return RevealAadhaarRequest(password=password)


# ---------------------------------------------------------------- reveal
def test_the_owner_with_the_right_password_sees_the_number_and_the_reveal_is_recorded(
    vault: VaultService, reveals: FakeRevealLog, clock: FakeClock
) -> None:
    # When Asha re-enters her password to see her number
    revealed = vault.reveal(ASHA, "request-1", CLIENT, step_up())
    # Then she sees it, and the reveal is on record for the audit trail, kept long enough to be carried there
    assert revealed.aadhaar == ASHA_AADHAAR
    (event,) = reveals.of(ASHA)
    assert (event.request_id, event.at, event.keep_until) == ("request-1", clock.now, clock.now + timedelta(seconds=REVEAL_TTL))
    assert reveals.of(RAVI) == []


def test_a_wrong_password_reveals_nothing_and_counts_toward_the_lockout(
    vault: VaultService, reveals: FakeRevealLog, data_keys: FakeDataKeys, failures: FakeAttemptStore
) -> None:
    # When the wrong password is given
    with pytest.raises(StepUpFailed):
        vault.reveal(ASHA, "request-1", CLIENT, step_up("not her password"))
    # Then nothing was decrypted or recorded, and the failure counts against her address
    assert data_keys.unwrapped == []
    assert reveals.of(ASHA) == []
    streak = failures.get_streak(f"{ASHA}@example.com")
    assert streak is not None
    assert streak.count == 1


def test_enough_wrong_passwords_lock_the_reveal_even_against_the_right_one(vault: VaultService, data_keys: FakeDataKeys) -> None:
    for _ in range(MAX_FAILURES):
        with pytest.raises(StepUpFailed):
            vault.reveal(ASHA, "request-1", CLIENT, step_up("not her password"))
    with pytest.raises(AccountLocked):
        vault.reveal(ASHA, "request-2", CLIENT, step_up())
    assert data_keys.unwrapped == []


def test_an_entry_moved_to_another_user_fails_integrity(vault: VaultService, tables: Tables, reveals: FakeRevealLog) -> None:
    # Given Asha's sealed number copied over Ravi's entry
    tables.vault[RAVI] = tables.vault[ASHA]
    # When Ravi reveals "his" number with his own password
    # Then the key provider refuses to unwrap the key outside Asha's context, and nothing is recorded
    with pytest.raises(VaultIntegrityError):
        vault.reveal(RAVI, "request-1", CLIENT, step_up())
    assert reveals.of(RAVI) == []


def test_without_an_entry_there_is_nothing_to_reveal(vault: VaultService, tables: Tables) -> None:
    del tables.vault[ASHA]
    with pytest.raises(VaultEntryNotFound):
        vault.reveal(ASHA, "request-1", CLIENT, step_up())


def test_an_unknown_user_has_nothing_to_reveal(vault: VaultService) -> None:
    with pytest.raises(UserNotFound):
        vault.reveal("nobody", "request-1", CLIENT, step_up())


# ---------------------------------------------------------------- sealing
def test_a_sealed_number_opens_for_its_owner_only_even_under_a_provider_that_ignores_the_context() -> None:
    # Given a key provider that would unwrap a data key under any context
    lax = FakeDataKeys(bind_context=False)
    sealed = seal_aadhaar(ASHA_AADHAAR, ASHA, lax)
    assert open_aadhaar(sealed, ASHA, lax) == ASHA_AADHAAR
    # Then AES-GCM's associated data still binds the number to its owner
    with pytest.raises(VaultIntegrityError):
        open_aadhaar(sealed, RAVI, lax)


def test_a_data_key_is_bound_to_its_context_and_its_master_key() -> None:
    keys = FakeDataKeys()
    sealed = seal_aadhaar(ASHA_AADHAAR, ASHA, keys)
    assert keys.generated == [encryption_context(ASHA)]
    with pytest.raises(VaultIntegrityError):
        open_aadhaar(sealed, RAVI, keys)
    with pytest.raises(VaultIntegrityError):
        open_aadhaar(sealed, ASHA, FakeDataKeys(master_key=bytes(32)))


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "wrapped_key"])
def test_a_tampered_entry_fails_integrity(field: str) -> None:
    keys = FakeDataKeys()
    sealed = seal_aadhaar(ASHA_AADHAAR, ASHA, keys)
    original: bytes = getattr(sealed, field)
    tampered = sealed.model_copy(update={field: bytes([original[0] ^ 1]) + original[1:]})
    with pytest.raises(VaultIntegrityError):
        open_aadhaar(tampered, ASHA, keys)


def test_each_seal_uses_a_fresh_key_and_nonce() -> None:
    keys = FakeDataKeys()
    first, second = seal_aadhaar(ASHA_AADHAAR, ASHA, keys), seal_aadhaar(ASHA_AADHAAR, ASHA, keys)
    assert first.wrapped_key != second.wrapped_key
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext


# ---------------------------------------------------------------- uniqueness index
def test_the_index_is_deterministic_keyed_and_made_only_by_the_mac_key() -> None:
    # Given the KMS HMAC key (a fake holding its key in memory)
    key_one, key_two = FakeIndexMac(b"key-one"), FakeIndexMac(b"key-two")
    # When a number is indexed
    index = aadhaar_index(ASHA_AADHAAR, key_one)
    # Then it is deterministic: the same number under the same key always collides (duplicates are caught)
    assert aadhaar_index(ASHA_AADHAAR, key_one) == index
    # And keyed: another key gives another index, and every index is one call to the key
    assert aadhaar_index(ASHA_AADHAAR, key_two) != index
    assert key_one.calls == 2
    # And distinct numbers do not collide, and the index shows nothing of the number
    assert aadhaar_index(RAVI_AADHAAR, key_one) != index
    assert len(index) == 64
    assert int(index, 16) >= 0
    assert ASHA_AADHAAR not in index
