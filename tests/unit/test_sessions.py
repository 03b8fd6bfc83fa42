"""Sessions: revocation bites within the cache bound, sessions end after their absolute lifetime
whatever the refreshes, and "log out everywhere" ends every session (in-memory fakes, no AWS)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import pytest

from tests.unit.fakes import FakeTokenStore
from tests.unit.fakes_identity import Clock, FakePublicKeys, FakeSigner, SessionReaderView
from vaultpay.core.errors import InvalidRefreshToken, RefreshTokenReused, Unauthenticated
from vaultpay.identity.authorization import CachedSessions, RequestAuthorizer
from vaultpay.identity.logic import IdentityService
from vaultpay.identity.models import RefreshRequest, TokenPair
from vaultpay.identity.tokens import AccessTokenIssuer, AccessTokenVerifier

DAY = 24 * 3600
SESSION_LIFETIME = 30 * DAY
REFRESH_TTL = 7 * DAY
CACHE_SECONDS = 15


class World:
    """The identity service's session side and the authorizer, over the same in-memory store."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.store = FakeTokenStore()
        signer = FakeSigner()
        self.service = IdentityService(
            users=cast(Any, None),
            tokens=self.store,
            data_keys=cast(Any, None),
            login_guard=cast(Any, None),
            access_tokens=AccessTokenIssuer(signer=signer, issuer="iss", audience="aud", ttl_seconds=300),
            index_mac=cast(Any, None),
            welcome_credit_paise=0,
            refresh_ttl_seconds=REFRESH_TTL,
            session_lifetime_seconds=SESSION_LIFETIME,
            clock=self.clock,
        )
        self.authorizer = RequestAuthorizer(
            tokens=AccessTokenVerifier(
                public_keys=FakePublicKeys({signer.key_id: signer.public_key}), issuer="iss", audience="aud", clock=self.clock
            ),
            sessions=CachedSessions(reader=SessionReaderView(self.store), cache_seconds=CACHE_SECONDS, clock=self.clock),
            clock=self.clock,
        )

    def login(self, user_id: str = "user-1") -> TokenPair:
        return self.service._start_session(user_id)  # what login does once the password checked out

    def refresh(self, pair: TokenPair) -> TokenPair:
        return self.service.refresh(RefreshRequest(refresh=pair.refresh))

    def accepted(self, pair: TokenPair) -> bool:
        try:
            self.authorizer.authorize(pair.access)
        except Unauthenticated:
            return False
        return True


@pytest.fixture
def world() -> World:
    return World()


def test_a_live_sessions_token_is_accepted_with_its_user_and_session(world: World) -> None:
    pair = world.login()
    claims = world.authorizer.authorize(pair.access)
    assert claims.user_id == "user-1"
    assert claims.session_id in world.store.families


def test_the_session_is_read_once_per_cache_period(world: World) -> None:
    # Given a token used over and over
    pair = world.login()
    for _ in range(5):
        assert world.accepted(pair)
    # Then the session was read once; once the cache period is over, once more
    assert world.store.reads == 1
    world.clock.advance(seconds=CACHE_SECONDS)
    assert world.accepted(pair)
    assert world.store.reads == 2


def test_a_revoked_sessions_token_is_refused_once_the_cache_period_is_over(world: World) -> None:
    # Given a token in use, its session's state cached by the authorizer
    pair = world.login()
    assert world.accepted(pair)
    # When the session is revoked (logout)
    family_id = world.authorizer.authorize(pair.access).session_id
    world.store.revoke_family(family_id, "logout", world.clock())
    # Then the token is refused at the latest when the cache period is over
    world.clock.advance(seconds=CACHE_SECONDS)
    assert not world.accepted(pair)


def test_refresh_token_reuse_revokes_the_session_and_its_access_tokens(world: World) -> None:
    # Given a session rotated once, whose newest access token works
    first = world.login()
    second = world.refresh(first)
    assert world.accepted(second)
    # When the spent refresh token is replayed
    with pytest.raises(RefreshTokenReused):
        world.refresh(first)
    # Then both access tokens of the session are refused once the cache period is over
    world.clock.advance(seconds=CACHE_SECONDS)
    assert not world.accepted(second)
    assert not world.accepted(first)


def test_logout_everywhere_refuses_every_session_of_the_user_and_no_one_elses(world: World) -> None:
    # Given two sessions of one user (laptop, phone) and one of someone else
    laptop, phone, other = world.login("user-1"), world.login("user-1"), world.login("user-2")
    # When the user logs out everywhere
    assert world.service.logout_everywhere("user-1") == 2
    # Then both their sessions end: access tokens refused, refresh tokens too; the other user's lives on
    world.clock.advance(seconds=CACHE_SECONDS)
    assert not world.accepted(laptop)
    assert not world.accepted(phone)
    for pair in (laptop, phone):
        with pytest.raises(InvalidRefreshToken):
            world.refresh(pair)
    assert world.accepted(other)
    assert world.accepted(world.refresh(other))


def test_refreshes_never_extend_a_session_past_its_absolute_lifetime(world: World) -> None:
    # Given a session refreshed every 6 days, keeping it alive
    login_time = world.clock()
    pair = world.login()
    for _ in range(4):  # day 24
        world.clock.advance(days=6)
        pair = world.refresh(pair)
    # Then near the end of the 30 days, the refresh token and the access token end with the session
    world.clock.advance(days=5, hours=23)  # 30 days minus one hour after the login
    pair = world.refresh(pair)
    assert pair.expires_in <= 3600
    token = world.store.get_session(world.authorizer.authorize(pair.access).session_id)
    assert token is not None
    assert token.ends_at == int(login_time.timestamp()) + SESSION_LIFETIME
    # When the 30 days are over
    world.clock.advance(hours=1)
    # Then the refresh token is refused, and so is the access token's session
    with pytest.raises(InvalidRefreshToken):
        world.refresh(pair)
    world.clock.advance(seconds=CACHE_SECONDS)
    assert not world.accepted(pair)


def test_a_session_unknown_to_the_store_or_of_another_user_is_refused(world: World) -> None:
    # Given a valid token whose session has disappeared (TTL) and one whose family names another user
    gone, stolen = world.login("user-1"), world.login("user-1")
    world.store.families.pop(world.authorizer.authorize(gone.access).session_id)
    stolen_session = world.authorizer.authorize(stolen.access).session_id
    world.store.families[stolen_session] = replace(world.store.families[stolen_session], user_id="user-2")
    world.clock.advance(seconds=CACHE_SECONDS)
    # Then both are refused: the session must exist and belong to the token's subject
    assert not world.accepted(gone)
    assert not world.accepted(stolen)


def test_a_refresh_token_from_before_sessions_had_an_end_is_refused(world: World) -> None:
    # Given a refresh token stored without a session end (issued before this change)
    pair = world.login()
    (record,) = world.store.tokens.values()
    world.store.tokens[record.token_hash] = record.model_copy(update={"session_ends_at": 0})
    # Then it no longer refreshes: log in again
    with pytest.raises(InvalidRefreshToken):
        world.refresh(pair)


def test_the_session_cache_is_bounded(world: World) -> None:
    sessions = CachedSessions(reader=SessionReaderView(world.store), cache_seconds=60, clock=world.clock, max_entries=3)
    for index in range(10):
        sessions.get(f"session-{index}")
    assert len(sessions._entries) == 3
