"""Identity's logic against the in-memory stores: registration, login and lockout, refresh-token
rotation, logout and the profile. Each registration or login does real argon2 work (~80 ms): the
tests keep their count small."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.unit.fakes import FakeAttemptStore, FakeClock, FakeDataKeys, FakeIndexMac, FakeTokenStore, FakeUserStore, Tables
from tests.unit.fakes_identity import FakePublicKeys, FakeSigner
from vaultpay.core.aadhaar import verhoeff_check_digit
from vaultpay.core.errors import (
    AadhaarAlreadyRegistered,
    AccountLocked,
    EmailAlreadyRegistered,
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenReused,
    UserNotFound,
    WeakPassword,
)
from vaultpay.core.records import is_system_account, system_party_for
from vaultpay.identity.lockout import LoginGuard, LoginLimits
from vaultpay.identity.logic import REVOKED_ON_LOGOUT, REVOKED_ON_REUSE, IdentityService
from vaultpay.identity.models import LoginRequest, LogoutRequest, RefreshRequest, RegisteredUser, RegisterRequest, TokenPair
from vaultpay.identity.tokens import AccessClaims, AccessTokenIssuer, AccessTokenVerifier, hash_refresh_token
from vaultpay.vault.logic import aadhaar_index, open_aadhaar

PASSWORD = "correct horse battery staple"
AADHAAR = "234123412346"
OTHER_AADHAAR = "23412341235" + verhoeff_check_digit("23412341235")
THIRD_AADHAAR = "23412341236" + verhoeff_check_digit("23412341236")
INDEX_MAC = FakeIndexMac()
WELCOME = 25_000
MAX_FAILURES = 3
LOCKOUT_SECONDS = 900
CLIENT = "203.0.113.7"
REFRESH_TTL = 3600


def registration(email: str = "asha@example.com", aadhaar: str = AADHAAR, password: str = PASSWORD) -> RegisterRequest:
    return RegisterRequest.model_validate({"email": email, "password": password, "full_name": "Asha Verma", "aadhaar": aadhaar})


def login(email: str = "asha@example.com", password: str = PASSWORD) -> LoginRequest:
    return LoginRequest.model_validate({"email": email, "password": password})


@pytest.fixture
def clock() -> FakeClock:
    # Access tokens are verified by PyJWT against the real time: the clock starts at it, then moves when told.
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def tokens() -> FakeTokenStore:
    return FakeTokenStore()


@pytest.fixture
def data_keys() -> FakeDataKeys:
    return FakeDataKeys()


@dataclass(frozen=True)
class Codec:
    """The access-token issuer the service signs with (a fake KMS signer), and the verifier the authorizer uses."""

    issuer: AccessTokenIssuer
    verifier: AccessTokenVerifier

    def verify(self, token: str) -> str:
        return self.verifier.verify(token).user_id

    def verify_claims(self, token: str) -> AccessClaims:
        return self.verifier.verify(token)


@pytest.fixture
def codec(clock: FakeClock) -> Codec:
    signer = FakeSigner()
    return Codec(
        issuer=AccessTokenIssuer(signer=signer, issuer="vaultpay-test", audience="vaultpay-api", ttl_seconds=300),
        verifier=AccessTokenVerifier(
            public_keys=FakePublicKeys({signer.key_id: signer.public_key}),
            issuer="vaultpay-test",
            audience="vaultpay-api",
            clock=clock,
        ),
    )


def make_service(
    tables: Tables,
    tokens: FakeTokenStore,
    failures: FakeAttemptStore,
    data_keys: FakeDataKeys,
    codec: Codec,
    clock: FakeClock,
    **overrides: Any,
) -> IdentityService:
    settings: dict[str, Any] = {
        "welcome_credit_paise": WELCOME,
        "refresh_ttl_seconds": REFRESH_TTL,
        "session_lifetime_seconds": 30 * 24 * 3600,
    } | overrides
    return IdentityService(
        users=FakeUserStore(tables),
        tokens=tokens,
        data_keys=data_keys,
        login_guard=LoginGuard(
            store=failures,
            limits=LoginLimits(
                free_failures=MAX_FAILURES,
                base_delay_seconds=1,
                max_delay_seconds=300,
                pair_max_failures=MAX_FAILURES,
                address_max_failures=20,
                window_seconds=LOCKOUT_SECONDS,
            ),
            clock=clock,
        ),
        access_tokens=codec.issuer,
        index_mac=INDEX_MAC,
        clock=clock,
        **settings,
    )


@pytest.fixture
def identity(
    tables: Tables,
    tokens: FakeTokenStore,
    failures: FakeAttemptStore,
    data_keys: FakeDataKeys,
    codec: Codec,
    clock: FakeClock,
) -> IdentityService:
    return make_service(tables, tokens, failures, data_keys, codec, clock)


@pytest.fixture
def asha(identity: IdentityService) -> RegisteredUser:
    """Given Asha, registered."""
    return identity.register(registration())


# ---------------------------------------------------------------- register
def test_register_seals_the_aadhaar_and_the_store_never_sees_the_number(
    identity: IdentityService, tables: Tables, data_keys: FakeDataKeys, clock: FakeClock
) -> None:
    # When Asha registers, typing her Aadhaar number with spaces and her e-mail in capitals
    user = identity.register(registration(email="Asha@Example.com", aadhaar="2341 2341 2346"))
    # Then she is answered with the masked number, her welcome credit, her normalized address
    assert user.aadhaar_masked == "XXXX XXXX 2346"
    assert (user.email, user.full_name, user.balance, user.created_at) == ("asha@example.com", "Asha Verma", WELCOME, clock.now)
    # And the number is nowhere in what was stored, in any form
    stored = repr(tables.snapshot())
    assert AADHAAR not in stored
    assert "2341 2341 2346" not in stored
    assert PASSWORD not in stored
    profile = tables.profiles[user.id]
    assert profile.aadhaar_last4 == "2346"
    assert profile.password_hash.startswith("$argon2id$")
    # But sealed under a data key bound to her (and only the wrapped key kept), it opens to the number
    sealed = tables.vault[user.id]
    assert data_keys.generated == [{"purpose": "aadhaar", "user_id": user.id}]
    assert AADHAAR.encode() not in sealed.ciphertext
    assert open_aadhaar(sealed, user.id, data_keys) == AADHAAR
    # And the uniqueness guard holds the keyed blind index, not the number
    assert tables.aadhaar_guards == {aadhaar_index(AADHAAR, INDEX_MAC)}


def test_register_credits_the_welcome_money_from_a_shard_of_the_system_account(identity: IdentityService, tables: Tables) -> None:
    # When someone registers
    user = identity.register(registration())
    # Then her welcome credit comes from one shard of the system account, the one her id hashes to
    assert tables.balance_of(user.id) == WELCOME
    (credit,) = tables.transactions.values()
    assert (credit.kind, credit.status, credit.amount, credit.receiver.user_id) == ("WELCOME_CREDIT", "SUCCESS", WELCOME, user.id)
    assert credit.sender == system_party_for(user.id, 16)
    assert tables.system_accounts() == {credit.sender.user_id: -WELCOME}
    assert tables.accounts[user.id].last_txn == credit.reference_id


def test_the_shards_of_the_system_account_together_hold_minus_what_was_issued(
    tables: Tables,
    tokens: FakeTokenStore,
    failures: FakeAttemptStore,
    data_keys: FakeDataKeys,
    codec: Codec,
    clock: FakeClock,
) -> None:
    # Given a system account of two shards
    identity = make_service(tables, tokens, failures, data_keys, codec, clock, system_account_shards=2)
    # When three people register
    for n, aadhaar in enumerate((AADHAAR, OTHER_AADHAAR, THIRD_AADHAAR)):
        identity.register(registration(email=f"user{n}@example.com", aadhaar=aadhaar))
    # Then each credit came from the shard its receiver's id hashes to, and the shards sum to minus the total
    shards = tables.system_accounts()
    assert set(shards) <= {"SYSTEM-00", "SYSTEM-01"}
    assert sum(shards.values()) == -3 * WELCOME
    for credit in tables.transactions.values():
        assert credit.sender == system_party_for(credit.receiver.user_id, 2)
        assert is_system_account(credit.sender.user_id)


def test_without_a_welcome_credit_an_account_opens_empty(
    tables: Tables,
    tokens: FakeTokenStore,
    failures: FakeAttemptStore,
    data_keys: FakeDataKeys,
    codec: Codec,
    clock: FakeClock,
) -> None:
    identity = make_service(tables, tokens, failures, data_keys, codec, clock, welcome_credit_paise=0)
    user = identity.register(registration())
    assert user.balance == 0
    assert tables.balance_of(user.id) == 0
    assert tables.transactions == {}
    assert tables.system_accounts() == {}


@pytest.mark.parametrize(
    ("again", "error"),
    [
        (registration(email="ASHA@example.com", aadhaar=OTHER_AADHAAR), EmailAlreadyRegistered),
        (registration(email="other@example.com", aadhaar="2341 2341 2346"), AadhaarAlreadyRegistered),
        (registration(), EmailAlreadyRegistered),
    ],
    ids=["same-email", "same-aadhaar", "both"],
)
def test_a_second_registration_with_the_same_email_or_aadhaar_is_refused(
    identity: IdentityService, tables: Tables, asha: RegisteredUser, again: RegisterRequest, error: type[Exception]
) -> None:
    before = tables.snapshot()
    with pytest.raises(error):
        identity.register(again)
    assert tables.snapshot() == before


@pytest.mark.parametrize("password", ["short", "password", "qwertyuiop"])
def test_weak_passwords_are_refused_before_anything_happens(
    identity: IdentityService, tables: Tables, data_keys: FakeDataKeys, password: str
) -> None:
    with pytest.raises(WeakPassword):
        identity.register(registration(password=password))
    assert tables.snapshot() == Tables().snapshot()
    assert data_keys.generated == []


# ---------------------------------------------------------------- login and lockout
def test_login_starts_a_session(identity: IdentityService, asha: RegisteredUser, tokens: FakeTokenStore, codec: Codec) -> None:
    # When Asha logs in (her address in any case)
    pair = identity.login(login(email="ASHA@example.com"), CLIENT)
    # Then her access token names her, and only the refresh token's hash is stored, in a new family
    assert codec.verify(pair.access) == asha.id
    assert pair.expires_in == 300
    assert list(tokens.tokens) == [hash_refresh_token(pair.refresh)]
    (family,) = tokens.families.values()
    assert (family.user_id, family.revoked) == (asha.id, False)
    # And the access token names the session: the refresh token's family
    assert codec.verify_claims(pair.access).session_id == family.family_id


def test_an_unknown_email_and_a_wrong_password_answer_alike_and_both_count(
    identity: IdentityService, asha: RegisteredUser, failures: FakeAttemptStore, tokens: FakeTokenStore
) -> None:
    with pytest.raises(InvalidCredentials) as unknown:
        identity.login(login(email="nobody@example.com"), CLIENT)
    with pytest.raises(InvalidCredentials) as wrong:
        identity.login(login(password="not her password"), CLIENT)
    assert (unknown.value.code, unknown.value.detail) == (wrong.value.code, wrong.value.detail)
    assert {email: streak.count for email, streak in failures.streaks.items()} == {"nobody@example.com": 1, "asha@example.com": 1}
    assert tokens.tokens == {}


def test_repeated_failures_lock_the_address_even_against_the_right_password_until_the_lock_lifts(
    identity: IdentityService, asha: RegisteredUser, clock: FakeClock
) -> None:
    # Given as many wrong passwords as the policy allows
    for _ in range(MAX_FAILURES):
        with pytest.raises(InvalidCredentials):
            identity.login(login(password="not her password"), CLIENT)
    # Then even the right one is refused from that address until its window ends
    with pytest.raises(AccountLocked) as locked:
        identity.login(login(), CLIENT)
    retry_after = locked.value.retry_after_seconds
    assert retry_after is not None
    assert 0 < retry_after <= LOCKOUT_SECONDS
    # And accepted once it has ended
    clock.advance(seconds=LOCKOUT_SECONDS)
    identity.login(login(), CLIENT)


def test_an_unknown_address_locks_like_a_known_one(identity: IdentityService) -> None:
    for _ in range(MAX_FAILURES):
        with pytest.raises(InvalidCredentials):
            identity.login(login(email="nobody@example.com"), CLIENT)
    with pytest.raises(AccountLocked):
        identity.login(login(email="nobody@example.com"), CLIENT)


def test_a_successful_login_forgets_earlier_failures(
    identity: IdentityService, asha: RegisteredUser, failures: FakeAttemptStore
) -> None:
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(InvalidCredentials):
            identity.login(login(password="not her password"), CLIENT)
    identity.login(login(), CLIENT)
    assert failures.get_streak("asha@example.com") is None


# ---------------------------------------------------------------- refresh and logout
@pytest.fixture
def session(identity: IdentityService, asha: RegisteredUser) -> TokenPair:
    """Given Asha, logged in."""
    return identity.login(login(), CLIENT)


def test_refresh_rotates_the_token_within_its_family(
    identity: IdentityService, asha: RegisteredUser, session: TokenPair, tokens: FakeTokenStore, codec: Codec
) -> None:
    # When the refresh token is used
    rotated = identity.refresh(RefreshRequest(refresh=session.refresh))
    # Then a new pair is issued, the old token is spent, the new one is in the same family
    assert rotated.refresh != session.refresh
    assert codec.verify(rotated.access) == asha.id
    old = tokens.get(hash_refresh_token(session.refresh))
    new = tokens.get(hash_refresh_token(rotated.refresh))
    assert old is not None
    assert new is not None
    assert (old.status, new.status, new.family_id) == ("USED", "ACTIVE", old.family_id)
    # And the new access token is of the same session
    assert codec.verify_claims(rotated.access).session_id == codec.verify_claims(session.access).session_id == old.family_id
    # And the new one rotates in turn
    identity.refresh(RefreshRequest(refresh=rotated.refresh))


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(
    identity: IdentityService, session: TokenPair, tokens: FakeTokenStore
) -> None:
    # Given a token rotated once (the thief or the user holds the new one)
    rotated = identity.refresh(RefreshRequest(refresh=session.refresh))
    # When the spent token is presented again
    with pytest.raises(RefreshTokenReused):
        identity.refresh(RefreshRequest(refresh=session.refresh))
    # Then the family is revoked, and the newest token is refused too
    (family,) = tokens.families.values()
    assert (family.revoked, family.revoked_reason) == (True, REVOKED_ON_REUSE)
    with pytest.raises(InvalidRefreshToken):
        identity.refresh(RefreshRequest(refresh=rotated.refresh))


def test_the_loser_of_two_concurrent_refreshes_revokes_the_family(
    identity: IdentityService, session: TokenPair, tokens: FakeTokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two refreshes that both read the token while it was still active
    stale = tokens.get(hash_refresh_token(session.refresh))
    identity.refresh(RefreshRequest(refresh=session.refresh))
    monkeypatch.setattr(tokens, "get", lambda _token_hash: stale)
    # When the second tries to rotate it, Then it is a reuse, and the family is revoked
    with pytest.raises(RefreshTokenReused):
        identity.refresh(RefreshRequest(refresh=session.refresh))
    (family,) = tokens.families.values()
    assert family.revoked_reason == REVOKED_ON_REUSE


def test_an_expired_or_unknown_refresh_token_is_refused(identity: IdentityService, session: TokenPair, clock: FakeClock) -> None:
    with pytest.raises(InvalidRefreshToken):
        identity.refresh(RefreshRequest(refresh="never-issued"))
    clock.advance(seconds=REFRESH_TTL)
    with pytest.raises(InvalidRefreshToken):
        identity.refresh(RefreshRequest(refresh=session.refresh))


def test_logout_revokes_the_session(
    identity: IdentityService, asha: RegisteredUser, session: TokenPair, tokens: FakeTokenStore
) -> None:
    identity.logout(asha.id, LogoutRequest(refresh=session.refresh))
    (family,) = tokens.families.values()
    assert (family.revoked, family.revoked_reason) == (True, REVOKED_ON_LOGOUT)
    with pytest.raises(InvalidRefreshToken):
        identity.refresh(RefreshRequest(refresh=session.refresh))
    # And the refused refresh wrote nothing: the token was not spent
    token = tokens.get(hash_refresh_token(session.refresh))
    assert token is not None
    assert token.status == "ACTIVE"


def test_logout_with_someone_elses_or_an_unknown_token_does_nothing(
    identity: IdentityService, session: TokenPair, tokens: FakeTokenStore
) -> None:
    identity.logout("someone-else", LogoutRequest(refresh=session.refresh))
    identity.logout("someone-else", LogoutRequest(refresh="never-issued"))
    assert not any(family.revoked for family in tokens.families.values())
    identity.refresh(RefreshRequest(refresh=session.refresh))


# ---------------------------------------------------------------- profile
def test_the_profile_shows_the_masked_number_only(identity: IdentityService, asha: RegisteredUser) -> None:
    profile = identity.profile(asha.id)
    assert dict(profile) == {
        "id": asha.id,
        "email": "asha@example.com",
        "full_name": "Asha Verma",
        "aadhaar_masked": "XXXX XXXX 2346",
        "created_at": asha.created_at,
    }
    with pytest.raises(UserNotFound):
        identity.profile("nobody")
