"""Identity: registration, login, refresh-token rotation, logout and the profile."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from vaultpay.core.aadhaar import mask_aadhaar
from vaultpay.core.errors import InvalidCredentials, InvalidRefreshToken, RefreshTokenReused, UserNotFound
from vaultpay.core.passwords import burn_verification_time, check_password_policy, hash_password, verify_password
from vaultpay.core.records import SYSTEM_PARTY, PartyRef, TransactionRecord
from vaultpay.identity.lockout import LoginGuard
from vaultpay.identity.models import (
    LoginRequest,
    LogoutRequest,
    NewUser,
    Profile,
    RefreshRequest,
    RegisteredUser,
    RegisterRequest,
    TokenPair,
)
from vaultpay.identity.ports import TokenStore, UserStore
from vaultpay.identity.tokens import AccessTokenCodec, hash_refresh_token, new_refresh_token
from vaultpay.vault.logic import blind_index, seal_aadhaar
from vaultpay.vault.ports import DataKeyProvider

REVOKED_ON_REUSE = "refresh-token-reuse"
REVOKED_ON_LOGOUT = "logout"


@dataclass(frozen=True)
class IdentityService:
    users: UserStore
    tokens: TokenStore
    data_keys: DataKeyProvider
    login_guard: LoginGuard
    access_tokens: AccessTokenCodec
    blind_index_key: Callable[[], str]
    welcome_credit_paise: int
    refresh_ttl_seconds: int
    clock: Callable[[], datetime]

    # ------------------------------------------------------------ register
    def register(self, request: RegisterRequest) -> RegisteredUser:
        check_password_policy(request.password)
        now = self.clock()
        user = NewUser(
            user_id=str(uuid.uuid4()),
            email=request.email,
            full_name=request.full_name,
            password_hash=hash_password(request.password),
            aadhaar_last4=request.aadhaar[-4:],
            created_at=now,
        )
        welcome = self._welcome_credit(user, now)
        self.users.create_user(
            user,
            seal_aadhaar(request.aadhaar, user.user_id, self.data_keys),
            blind_index(request.aadhaar, self.blind_index_key()),
            welcome,
        )
        return RegisteredUser(
            id=user.user_id,
            email=user.email,
            full_name=user.full_name,
            aadhaar_masked=mask_aadhaar(user.aadhaar_last4),
            balance=welcome.amount if welcome else 0,
            created_at=now,
        )

    def _welcome_credit(self, user: NewUser, now: datetime) -> TransactionRecord | None:
        if self.welcome_credit_paise <= 0:
            return None
        return TransactionRecord(
            reference_id=str(uuid.uuid4()),
            kind="WELCOME_CREDIT",
            status="SUCCESS",
            sender=SYSTEM_PARTY,
            receiver=PartyRef(user_id=user.user_id, email=user.email, full_name=user.full_name),
            amount=self.welcome_credit_paise,
            note="Welcome to VaultPay",
            created_at=now,
        )

    # ------------------------------------------------------------ sessions
    def login(self, request: LoginRequest) -> TokenPair:
        """Unknown e-mail and wrong password answer alike, in about the same time, and both
        count toward the lockout of that address, so neither reveals who has an account."""
        self.login_guard.ensure_not_locked(request.email)
        profile = self.users.find_by_email(request.email)
        if profile is None:
            burn_verification_time(request.password)
            verified = False
        else:
            verified = verify_password(profile.password_hash, request.password)
        if profile is None or not verified:
            self.login_guard.record_failure(request.email)
            raise InvalidCredentials()
        self.login_guard.clear(request.email)
        return self._start_session(profile.user_id)

    def _start_session(self, user_id: str) -> TokenPair:
        now = self.clock()
        refresh = new_refresh_token()
        family_id = str(uuid.uuid4())
        self.tokens.create_family(
            family_id=family_id,
            user_id=user_id,
            token_hash=hash_refresh_token(refresh),
            expires_at=self._refresh_expiry(now),
            now=now,
        )
        return self._token_pair(user_id, family_id, refresh, now)

    def _refresh_expiry(self, now: datetime) -> int:
        return int((now + timedelta(seconds=self.refresh_ttl_seconds)).timestamp())

    def _token_pair(self, user_id: str, session_id: str, refresh: str, now: datetime) -> TokenPair:
        """The access token carries the session id (``sid``: the refresh-token family), so grants
        bound to a session (step-up) can be checked against it."""
        return TokenPair(
            access=self.access_tokens.issue(user_id, now, session_id),
            refresh=refresh,
            expires_in=self.access_tokens.ttl_seconds,
        )

    def refresh(self, request: RefreshRequest) -> TokenPair:
        """Rotate: the presented token is spent and a new one issued in its family. A spent
        token presented again revokes the family (RFC 9700, 4.14.2): whoever holds any of
        its tokens, the thief or the user, must log in again."""
        now = self.clock()
        record = self.tokens.get(hash_refresh_token(request.refresh))
        if record is None or record.expires_at <= int(now.timestamp()):
            raise InvalidRefreshToken()
        if record.status != "ACTIVE":
            self.tokens.revoke_family(record.family_id, REVOKED_ON_REUSE, now)
            raise RefreshTokenReused()
        refresh = new_refresh_token()
        try:
            self.tokens.rotate(record, hash_refresh_token(refresh), self._refresh_expiry(now), now)
        except RefreshTokenReused:
            self.tokens.revoke_family(record.family_id, REVOKED_ON_REUSE, now)
            raise
        return self._token_pair(record.user_id, record.family_id, refresh, now)

    def logout(self, user_id: str, request: LogoutRequest) -> None:
        """Revoke the session (the refresh token's family) if it is the caller's; say nothing otherwise."""
        record = self.tokens.get(hash_refresh_token(request.refresh))
        if record is not None and record.user_id == user_id:
            self.tokens.revoke_family(record.family_id, REVOKED_ON_LOGOUT, self.clock())

    # ------------------------------------------------------------ profile
    def profile(self, user_id: str) -> Profile:
        profile = self.users.get_profile(user_id)
        if profile is None:
            raise UserNotFound()
        return Profile(
            id=profile.user_id,
            email=profile.email,
            full_name=profile.full_name,
            aadhaar_masked=mask_aadhaar(profile.aadhaar_last4),
            created_at=profile.created_at,
        )
