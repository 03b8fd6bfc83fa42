"""In-memory fakes of the identity ports that sign and verify tokens and keep sessions (no AWS, no network)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from tests.unit.fakes import FakeTokenStore
from vaultpay.identity.models import SessionState


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
class SessionReaderView:
    """identity.ports.SessionReader over the token store's families, as the adapter reads them."""

    store: FakeTokenStore

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
