"""The identity feature's ports: what its logic needs from the outside world, as Protocols.

The DynamoDB and KMS adapters implement them in production; the unit tests use in-memory fakes."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from vaultpay.core.records import ProfileRecord, TransactionRecord
from vaultpay.identity.models import LoginFailures, NewUser, RefreshTokenRecord
from vaultpay.vault.models import SealedAadhaar


class UserStore(Protocol):
    def create_user(
        self,
        user: NewUser,
        sealed_aadhaar: SealedAadhaar,
        aadhaar_index: str,
        welcome_credit: TransactionRecord | None,
    ) -> None: ...
    def find_by_email(self, email: str) -> ProfileRecord | None: ...
    def get_profile(self, user_id: str) -> ProfileRecord | None: ...


class TokenStore(Protocol):
    def create_family(self, family_id: str, user_id: str, token_hash: str, expires_at: int, now: datetime) -> None: ...
    def get(self, token_hash: str) -> RefreshTokenRecord | None: ...
    def rotate(self, old: RefreshTokenRecord, new_hash: str, expires_at: int, now: datetime) -> None: ...
    def revoke_family(self, family_id: str, reason: str, now: datetime) -> None: ...


class FailureStore(Protocol):
    def get(self, email: str) -> LoginFailures | None: ...
    def add_failure(self, email: str, now: int, window_seconds: int, keep_until: int) -> int: ...
    def lock(self, email: str, until: int) -> None: ...
    def clear(self, email: str) -> None: ...
