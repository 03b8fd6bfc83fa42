"""Access tokens (JWT, ES256 pinned, signed by an asymmetric KMS key) and opaque refresh tokens.

An access token is a JWS: header ``{"alg": "ES256", "typ": "JWT", "kid": <signing key id>}``,
claims ``iss aud sub sid iat nbf exp jti token_use``. It is signed through the ``TokenSigner``
port (KMS ``Sign`` on a SHA-256 digest in production: the private key never leaves KMS) and
verified here with the public key of its ``kid``, looked up through the ``PublicKeys`` port among
the trusted key ids only. No secret that can mint tokens exists outside KMS.

PyJWT and cryptography are imported on first use: of the identity function's routes only login
and refresh sign tokens; the authorizer imports them at init.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from vaultpay.core.clock import utc_now
from vaultpay.core.errors import Unauthenticated

if TYPE_CHECKING:
    from vaultpay.identity.ports import PublicKeys, TokenSigner

ALGORITHM = "ES256"
TOKEN_TYPE = "JWT"  # noqa: S105 - the typ header, not a secret
TOKEN_USE = "access"  # noqa: S105 - a claim value, not a secret
P256_COORDINATE_BYTES = 32
REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "exp", "iat", "nbf"]
# Tolerated skew between the clocks of the issuing and the verifying hosts, for iat and nbf only:
# a token is never accepted after its exp.
CLOCK_SKEW_SECONDS = 5


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token vouches for: the user and the session (refresh-token family)."""

    user_id: str
    session_id: str


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    expires_in: int


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def der_to_jose(der_signature: bytes) -> bytes:
    """An ECDSA P-256 signature as KMS returns it (ASN.1 DER) in JOSE's form: r || s, 32 bytes each (RFC 7518, 3.4)."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(der_signature)
    return r.to_bytes(P256_COORDINATE_BYTES, "big") + s.to_bytes(P256_COORDINATE_BYTES, "big")


@dataclass(frozen=True)
class AccessTokenIssuer:
    """Signs access tokens with the signer's key, named in the ``kid`` header so the key can rotate."""

    signer: TokenSigner
    issuer: str
    audience: str
    ttl_seconds: int

    def issue(self, user_id: str, session_id: str, now: datetime, session_ends_at: int) -> IssuedAccessToken:
        """A token for ``user_id`` in ``session_id``; it never outlives its session."""
        issued_at = int(now.timestamp())
        expires_at = min(int((now + timedelta(seconds=self.ttl_seconds)).timestamp()), session_ends_at)
        if expires_at <= issued_at:
            raise Unauthenticated()
        header = {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": self.signer.key_id}
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "sid": session_id,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": expires_at,
            "jti": uuid.uuid4().hex,
            "token_use": TOKEN_USE,
        }
        signing_input = f"{_b64url(_compact_json(header))}.{_b64url(_compact_json(claims))}"
        digest = hashlib.sha256(signing_input.encode("ascii")).digest()
        signature = der_to_jose(self.signer.sign_digest(digest))
        return IssuedAccessToken(token=f"{signing_input}.{_b64url(signature)}", expires_in=expires_at - issued_at)


@dataclass(frozen=True)
class AccessTokenVerifier:
    """Verifies access tokens locally with the public key their ``kid`` names. The algorithm is
    pinned: a token that names another (``none``, HS256 with the public key as an HMAC secret,
    ...), names no key or an untrusted one, is rejected before any signature check."""

    public_keys: PublicKeys
    issuer: str
    audience: str
    clock: Callable[[], datetime] = utc_now

    def verify(self, token: str) -> AccessClaims:
        """The user and session of a valid access token; Unauthenticated otherwise."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE or not isinstance(kid, str) or not kid:
                raise Unauthenticated()
            public_key = self.public_keys.get(kid)
            if public_key is None:
                raise Unauthenticated()
            claims = jwt.decode(
                token,
                public_key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                # the times are checked below, against this service's clock
                options={"require": REQUIRED_CLAIMS, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise Unauthenticated() from None
        self._check_times(claims)
        subject, session = claims.get("sub"), claims.get("sid")
        if claims.get("token_use") != TOKEN_USE or not isinstance(subject, str) or not subject:
            raise Unauthenticated()
        if not isinstance(session, str) or not session:
            raise Unauthenticated()
        return AccessClaims(user_id=subject, session_id=session)

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = int(self.clock().timestamp())
        times = [claims.get(name) for name in ("iat", "nbf", "exp")]
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in times):
            raise Unauthenticated()
        issued_at, not_before, expires_at = (int(value) for value in times)  # type: ignore[arg-type]  # checked above
        if issued_at > now + CLOCK_SKEW_SECONDS or not_before > now + CLOCK_SKEW_SECONDS or expires_at <= now:
            raise Unauthenticated()


def new_refresh_token() -> str:
    """256 random bits; the server keeps only its hash."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
