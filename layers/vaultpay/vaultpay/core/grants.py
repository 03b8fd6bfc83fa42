"""Step-up grants: what a fresh proof (password, TOTP code, recovery code) buys for a few minutes.

A grant is 256 random bits handed to the caller once; the table keeps only its SHA-256, bound to
the session (the access token's ``sid``) that proved itself. The operation it authorizes spends it
inside its own transaction (``core.table.consume_step_up_grant``): once, in that session, in time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

GRANT_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)


def new_grant() -> str:
    return secrets.token_urlsafe(32)


def hash_grant(grant: str) -> str:
    return hashlib.sha256(grant.encode()).hexdigest()


@dataclass(frozen=True)
class GrantUse:
    """A grant presented with a request: spent by that request's transaction if it is this
    session's and still valid (``now``: epoch seconds), refused otherwise."""

    grant_hash: str
    session_id: str
    now: int

    def __repr__(self) -> str:  # never the hash in a log line either
        return "GrantUse(...)"


def grant_use(grant: str | None, session_id: str | None, now: int) -> GrantUse | None:
    """The grant as the stores take it; None when absent or not even shaped like one (a malformed
    grant is no grant: the caller is told to step up)."""
    if grant is None or session_id is None or not GRANT_PATTERN.fullmatch(grant):
        return None
    return GrantUse(grant_hash=hash_grant(grant), session_id=session_id, now=now)


@dataclass(frozen=True)
class NewGrant:
    """A grant to store: its hash, the session it is bound to, when it expires (epoch seconds) and
    the proof that earned it (password, totp or recovery_code)."""

    grant_hash: str
    session_id: str
    expires_at: int
    method: str

    def __repr__(self) -> str:
        return f"NewGrant(method={self.method!r})"
