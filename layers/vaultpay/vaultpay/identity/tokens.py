"""Access tokens (JWT, HS256 pinned) and opaque refresh tokens.

PyJWT is imported on first use: of the identity function's routes only login and refresh sign
tokens, and the authorizer's first request pays for it once per container.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from vaultpay.core.errors import Unauthenticated

ALGORITHM = "HS256"
TOKEN_USE = "access"  # noqa: S105 - a claim value, not a secret


@dataclass(frozen=True)
class VerifiedToken:
    user_id: str
    session_id: str | None


@dataclass(frozen=True)
class AccessTokenCodec:
    """Signs and verifies access tokens. The algorithm is pinned: a token that names another
    (``none``, RS256 with our secret as a public key, ...) is rejected before any check."""

    signing_key: Callable[[], str]
    issuer: str
    audience: str
    ttl_seconds: int

    def issue(self, user_id: str, now: datetime, session_id: str | None = None) -> str:
        """A signed access token for ``user_id``; ``sid`` names its session (the refresh-token family)."""
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self.ttl_seconds)).timestamp()),
            "jti": uuid.uuid4().hex,
            "token_use": TOKEN_USE,
        }
        if session_id:
            claims["sid"] = session_id
        import jwt

        return jwt.encode(claims, self.signing_key(), algorithm=ALGORITHM)

    def verify(self, token: str) -> str:
        """The user id (``sub``) of a valid access token; Unauthenticated otherwise."""
        return self.verify_claims(token).user_id

    def verify_claims(self, token: str) -> VerifiedToken:
        """The user id (``sub``) and session id (``sid``, None on a token issued without one) of a
        valid access token; Unauthenticated otherwise."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM:
                raise Unauthenticated()
            claims = jwt.decode(
                token,
                self.signing_key(),
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            )
        except jwt.PyJWTError:
            raise Unauthenticated() from None
        subject = claims.get("sub")
        if claims.get("token_use") != TOKEN_USE or not isinstance(subject, str) or not subject:
            raise Unauthenticated()
        session_id = claims.get("sid")
        return VerifiedToken(user_id=subject, session_id=session_id if isinstance(session_id, str) and session_id else None)


def new_refresh_token() -> str:
    """256 random bits; the server keeps only its hash."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
