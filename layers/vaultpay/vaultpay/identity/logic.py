"""Identity: registration, login, refresh-token rotation, logout (of one session or all) and the profile."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from vaultpay.core.aadhaar import mask_aadhaar
from vaultpay.core.errors import InvalidCredentials, InvalidRefreshToken, RefreshTokenReused, ReservedEmail, UserNotFound
from vaultpay.core.passwords import burn_verification_time, check_password_policy, hash_password, verify_password
from vaultpay.core.records import PartyRef, TransactionRecord, system_party_for
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
from vaultpay.identity.tokens import AccessTokenIssuer, hash_refresh_token, new_refresh_token
from vaultpay.vault.logic import aadhaar_index, seal_aadhaar
from vaultpay.vault.ports import DataKeyProvider, IndexMac

# Addresses no one may register: the platform's own domain for internal parties (the system
# account is system@vaultpay.internal, shown as counterparty of every welcome credit), and the role
# addresses of its public domain, which would pass for VaultPay staff in a history or a transfer.
INTERNAL_DOMAIN = "vaultpay.internal"
PUBLIC_DOMAIN = "vaultpay.example"
RESERVED_LOCAL_PARTS = frozenset(
    {
        "abuse", "admin", "administrator", "billing", "compliance", "help", "hostmaster", "info", "no-reply",
        "noreply", "payments", "postmaster", "root", "security", "support", "system", "vaultpay", "webmaster",
    }
)  # fmt: skip


def is_reserved_email(email: str) -> bool:
    """``email`` is normalized (lower case). Subdomains count as the domain; ``admin+x@`` as ``admin@``."""
    local, _, domain = email.rpartition("@")
    if domain == INTERNAL_DOMAIN or domain.endswith("." + INTERNAL_DOMAIN):
        return True
    if domain == PUBLIC_DOMAIN or domain.endswith("." + PUBLIC_DOMAIN):
        return local.split("+", 1)[0].replace(".", "") in RESERVED_LOCAL_PARTS
    return False


REVOKED_ON_REUSE = "refresh-token-reuse"
REVOKED_ON_LOGOUT = "logout"
REVOKED_ON_LOGOUT_EVERYWHERE = "logout-everywhere"


@dataclass(frozen=True)
class IdentityService:
    users: UserStore
    tokens: TokenStore
    data_keys: DataKeyProvider
    login_guard: LoginGuard
    access_tokens: AccessTokenIssuer
    index_mac: IndexMac
    welcome_credit_paise: int
    refresh_ttl_seconds: int
    session_lifetime_seconds: int
    clock: Callable[[], datetime]
    # The issuance account is this many items (SYSTEM-00 ...): no one item takes every registration.
    system_account_shards: int = 16

    # ------------------------------------------------------------ register
    def register(self, request: RegisterRequest) -> RegisteredUser:
        if is_reserved_email(request.email):
            raise ReservedEmail()
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
            aadhaar_index(request.aadhaar, self.index_mac),
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
            sender=system_party_for(user.user_id, self.system_account_shards),
            receiver=PartyRef(user_id=user.user_id, email=user.email, full_name=user.full_name),
            amount=self.welcome_credit_paise,
            note="Welcome to VaultPay",
            created_at=now,
        )

    # ------------------------------------------------------------ sessions
    def login(self, request: LoginRequest, client_address: str) -> TokenPair:
        """Unknown e-mail and wrong password answer alike, in about the same time, and both
        count toward the same limits, so neither reveals who has an account. The attempt is
        counted before the password is checked (LoginGuard.reserve), so parallel guesses
        cannot outrun the limits."""
        reservation = self.login_guard.reserve(request.email, client_address)
        profile = self.users.find_by_email(request.email)
        if profile is None:
            burn_verification_time(request.password)
            verified = False
        else:
            verified = verify_password(profile.password_hash, request.password)
        if profile is None or not verified:
            raise InvalidCredentials()
        self.login_guard.succeeded(reservation)
        return self._start_session(profile.user_id)

    def _start_session(self, user_id: str) -> TokenPair:
        """A new session (refresh-token family): it ends ``session_lifetime_seconds`` from now, whatever the refreshes."""
        now = self.clock()
        family_id = str(uuid.uuid4())
        ends_at = int((now + timedelta(seconds=self.session_lifetime_seconds)).timestamp())
        refresh = new_refresh_token()
        self.tokens.create_family(
            family_id=family_id,
            user_id=user_id,
            token_hash=hash_refresh_token(refresh),
            expires_at=self._refresh_expiry(now, ends_at),
            ends_at=ends_at,
            now=now,
        )
        return self._token_pair(user_id, family_id, ends_at, refresh, now)

    def _refresh_expiry(self, now: datetime, session_ends_at: int) -> int:
        return min(int((now + timedelta(seconds=self.refresh_ttl_seconds)).timestamp()), session_ends_at)

    def _token_pair(self, user_id: str, session_id: str, session_ends_at: int, refresh: str, now: datetime) -> TokenPair:
        access = self.access_tokens.issue(user_id, session_id, now, session_ends_at)
        return TokenPair(access=access.token, refresh=refresh, expires_in=access.expires_in)

    def refresh(self, request: RefreshRequest) -> TokenPair:
        """Rotate: the presented token is spent and a new one issued in its family. A spent
        token presented again revokes the family (RFC 9700, 4.14.2): whoever holds any of
        its tokens, the thief or the user, must log in again. Never past the session's end."""
        now = self.clock()
        record = self.tokens.get(hash_refresh_token(request.refresh))
        if record is None or min(record.expires_at, record.session_ends_at) <= int(now.timestamp()):
            raise InvalidRefreshToken()
        if record.status != "ACTIVE":
            self.tokens.revoke_family(record.family_id, REVOKED_ON_REUSE, now)
            raise RefreshTokenReused()
        refresh = new_refresh_token()
        try:
            self.tokens.rotate(record, hash_refresh_token(refresh), self._refresh_expiry(now, record.session_ends_at), now)
        except RefreshTokenReused:
            self.tokens.revoke_family(record.family_id, REVOKED_ON_REUSE, now)
            raise
        return self._token_pair(record.user_id, record.family_id, record.session_ends_at, refresh, now)

    def logout(self, user_id: str, request: LogoutRequest) -> None:
        """Revoke the session (the refresh token's family) if it is the caller's; say nothing otherwise."""
        record = self.tokens.get(hash_refresh_token(request.refresh))
        if record is not None and record.user_id == user_id:
            self.tokens.revoke_family(record.family_id, REVOKED_ON_LOGOUT, self.clock())

    def logout_everywhere(self, user_id: str) -> int:
        """Revoke every session of the caller that has not ended yet (revoking one twice changes
        nothing); how many were looked at."""
        now = self.clock()
        session_ids = self.tokens.session_ids(user_id, now)
        for session_id in session_ids:
            self.tokens.revoke_family(session_id, REVOKED_ON_LOGOUT_EVERYWHERE, now)
        return len(session_ids)

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
