"""The identity feature's ports: what its logic needs from the outside world, as Protocols.

The DynamoDB and KMS adapters implement them in production; the unit tests use in-memory fakes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from vaultpay.core.records import ProfileRecord, TransactionRecord
from vaultpay.identity.models import LoginStreak, NewUser, RefreshTokenRecord, SessionState, WindowCounter
from vaultpay.vault.models import SealedAadhaar

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey


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
    """Refresh tokens and their families (one family = one session, from a login to its end)."""

    def create_family(
        self, family_id: str, user_id: str, token_hash: str, expires_at: int, ends_at: int, now: datetime
    ) -> None: ...
    def get(self, token_hash: str) -> RefreshTokenRecord | None: ...
    def rotate(self, old: RefreshTokenRecord, new_hash: str, expires_at: int, now: datetime) -> None: ...
    def revoke_family(self, family_id: str, reason: str, now: datetime) -> None: ...
    def session_ids(self, user_id: str, now: datetime) -> list[str]:
        """The families of ``user_id`` that have not reached their absolute end (revoked or not)."""
        ...


class SessionReader(Protocol):
    """The authorizer's one read per (uncached) request: is this session still alive?"""

    def get(self, session_id: str) -> SessionState | None: ...


class TokenSigner(Protocol):
    """Signs access tokens with a private key it never discloses (an asymmetric KMS key)."""

    @property
    def key_id(self) -> str:
        """The key's id, the tokens' ``kid``."""
        ...

    def sign_digest(self, digest: bytes) -> bytes:
        """An ECDSA P-256 signature of a SHA-256 digest, ASN.1 DER-encoded (as KMS ``Sign`` returns it)."""
        ...


class PublicKeys(Protocol):
    """The public keys that verify access tokens, by key id (``kid``)."""

    def get(self, key_id: str) -> EllipticCurvePublicKey | None:
        """The P-256 public key of a trusted key id; None for a key id that is not trusted."""
        ...


class AttemptStore(Protocol):
    """Password-check counters. Every method that counts is one atomic conditional write."""

    def count_in_window(self, counter: WindowCounter, limit: int, keep_until: int) -> int | None:
        """Add one if the counter is below ``limit`` and return the new count; None (nothing written) if not."""
        ...

    def uncount(self, counter: WindowCounter) -> None:
        """Give one back (an attempt that was refused further on, or that succeeded)."""
        ...

    def forget(self, counter: WindowCounter) -> None: ...

    def extend_streak(self, email: str, below: int, recent_since: int, now: int, keep_until: int) -> int | None:
        """Add one to the streak and set its last attempt to ``now`` if it is new, or if its count is
        below ``below`` and its last attempt not before ``recent_since``; the new count, or None."""
        ...

    def get_streak(self, email: str) -> LoginStreak | None: ...

    def replace_streak(self, email: str, expected: LoginStreak | None, new: LoginStreak, keep_until: int) -> bool:
        """Write ``new`` only if the streak is still ``expected`` (None: absent); False if it changed."""
        ...

    def clear_streak(self, email: str) -> None: ...
