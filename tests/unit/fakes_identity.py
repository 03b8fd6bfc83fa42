"""In-memory fakes of the identity ports that sign and verify tokens and keep sessions (no AWS, no network)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from vaultpay.core.errors import InvalidRefreshToken, RefreshTokenReused
from vaultpay.identity.models import RefreshTokenRecord, SessionState


class FakeSigner:
    """Signs digests as KMS does for an ECC_NIST_P256 key with MessageType=DIGEST: ECDSA over the
    digest as given, signature in ASN.1 DER."""

    def __init__(self, key_id: str = "key-1") -> None:
        self._key_id = key_id
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.digests: list[bytes] = []

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign_digest(self, digest: bytes) -> bytes:
        self.digests.append(digest)
        return self.private_key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()


@dataclass
class FakePublicKeys:
    keys: dict[str, ec.EllipticCurvePublicKey] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def get(self, key_id: str) -> ec.EllipticCurvePublicKey | None:
        self.lookups.append(key_id)
        return self.keys.get(key_id)


@dataclass
class Family:
    user_id: str
    ends_at: int
    expires_at: int
    revoked: bool = False
    reason: str = ""


@dataclass
class MemoryTokens:
    """The TokenStore and the SessionReader over one in-memory table, with the adapter's conditions."""

    tokens: dict[str, RefreshTokenRecord] = field(default_factory=dict)
    families: dict[str, Family] = field(default_factory=dict)
    reads: int = 0

    def create_family(self, family_id: str, user_id: str, token_hash: str, expires_at: int, ends_at: int, now: datetime) -> None:
        self.families[family_id] = Family(user_id=user_id, ends_at=ends_at, expires_at=expires_at)
        self.tokens[token_hash] = RefreshTokenRecord(
            token_hash=token_hash,
            user_id=user_id,
            family_id=family_id,
            status="ACTIVE",
            expires_at=expires_at,
            session_ends_at=ends_at,
        )

    def get(self, token_hash: str) -> RefreshTokenRecord | None:
        return self.tokens.get(token_hash)

    def rotate(self, old: RefreshTokenRecord, new_hash: str, expires_at: int, now: datetime) -> None:
        family = self.families[old.family_id]
        if self.tokens[old.token_hash].status != "ACTIVE":
            raise RefreshTokenReused()
        if family.revoked or family.ends_at <= int(now.timestamp()):
            raise InvalidRefreshToken()
        self.tokens[old.token_hash] = old.model_copy(update={"status": "USED"})
        self.tokens[new_hash] = old.model_copy(update={"token_hash": new_hash, "status": "ACTIVE", "expires_at": expires_at})
        family.expires_at = expires_at

    def revoke_family(self, family_id: str, reason: str, now: datetime) -> None:
        family = self.families[family_id]
        if not family.revoked:
            family.revoked, family.reason = True, reason

    def session_ids(self, user_id: str, now: datetime) -> list[str]:
        return [
            family_id
            for family_id, family in self.families.items()
            if family.user_id == user_id and family.ends_at > int(now.timestamp())
        ]

    # SessionReader
    def get_session(self, session_id: str) -> SessionState | None:
        self.reads += 1
        family = self.families.get(session_id)
        if family is None:
            return None
        return SessionState(user_id=family.user_id, revoked=family.revoked, ends_at=family.ends_at)


@dataclass
class SessionReaderView:
    store: MemoryTokens

    def get(self, session_id: str) -> SessionState | None:
        return self.store.get_session(session_id)


class Clock:
    """Starts at the real time (PyJWT checks exp and nbf against it), then moves when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
