"""The identity feature's models: its API requests and responses, and the records it stores."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vaultpay.core.models import (
    Aadhaar,
    Email,
    FullName,
    LooseEmail,
    Money,
    NewPassword,
    Password,
    RefreshToken,
    RequestModel,
    ResponseModel,
    Timestamp,
)


class RegisterRequest(RequestModel):
    email: Email
    password: NewPassword
    full_name: FullName
    aadhaar: Aadhaar


class LoginRequest(RequestModel):
    email: LooseEmail
    password: Password


class RefreshRequest(RequestModel):
    refresh: RefreshToken


class LogoutRequest(RequestModel):
    refresh: RefreshToken


class Profile(ResponseModel):
    id: str
    email: str
    full_name: str
    aadhaar_masked: str = Field(examples=["XXXX XXXX 2346"])
    created_at: Timestamp


class RegisteredUser(Profile):
    balance: Money


class TokenPair(ResponseModel):
    access: str
    refresh: str
    expires_in: int = Field(description="Lifetime of the access token, in seconds.")


# ---------------------------------------------------------------- records
class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class NewUser(_Record):
    user_id: str
    email: str
    full_name: str
    password_hash: str
    aadhaar_last4: str = Field(pattern=r"^[0-9]{4}$")
    created_at: datetime


class RefreshTokenRecord(_Record):
    token_hash: str
    user_id: str
    family_id: str
    status: Literal["ACTIVE", "USED"]
    expires_at: int
    # When the session (the family) ends, whatever the refreshes; 0 for a token issued before
    # sessions had an absolute lifetime, which counts as ended.
    session_ends_at: int = 0


class SessionState(_Record):
    """What the authorizer reads of a session (a refresh-token family)."""

    user_id: str
    revoked: bool
    ends_at: int


class LoginStreak(_Record):
    """An account's password checks since its last success, from every address (the delay counter)."""

    count: int
    last_attempt_at: int


class WindowCounter(_Record):
    """Password checks from one client address in one fixed window: across all accounts
    (``email`` None) or at one account (the e-mail address, known or not)."""

    address: str
    email: str | None
    window_start: int
