"""The authorizer's logic: a valid signature is not enough, the token's session must be alive.

Revocation bites within a bound: a session's state is read once per container and per
``cache_seconds`` (one consistent GetItem), and API Gateway caches the authorizer's answer for
``ReauthorizeEvery`` seconds; logout, refresh-token reuse and "log out everywhere" therefore
refuse the session's access tokens at most ``cache_seconds + ReauthorizeEvery`` seconds later.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from vaultpay.core.errors import Unauthenticated
from vaultpay.identity.models import SessionState
from vaultpay.identity.ports import SessionReader
from vaultpay.identity.tokens import AccessClaims, AccessTokenVerifier


@dataclass
class CachedSessions:
    """Session states, kept in the container for at most ``cache_seconds`` each (an LRU of bounded size)."""

    reader: SessionReader
    cache_seconds: int
    clock: Callable[[], datetime]
    max_entries: int = 10_000
    _entries: OrderedDict[str, tuple[float, SessionState | None]] = field(default_factory=OrderedDict, repr=False)

    def get(self, session_id: str) -> SessionState | None:
        now = self.clock().timestamp()
        cached = self._entries.get(session_id)
        if cached is not None and cached[0] > now:
            self._entries.move_to_end(session_id)
            return cached[1]
        state = self.reader.get(session_id)
        if self.cache_seconds > 0:
            self._entries[session_id] = (now + self.cache_seconds, state)
            self._entries.move_to_end(session_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return state


@dataclass(frozen=True)
class RequestAuthorizer:
    """Accepts an access token whose signature, claims and session all hold."""

    tokens: AccessTokenVerifier
    sessions: CachedSessions
    clock: Callable[[], datetime]

    def authorize(self, token: str) -> AccessClaims:
        claims = self.tokens.verify(token)
        state = self.sessions.get(claims.session_id)
        if state is None or state.revoked or state.user_id != claims.user_id:
            raise Unauthenticated()
        if state.ends_at <= int(self.clock().timestamp()):
            raise Unauthenticated()  # the session reached its absolute lifetime
        return claims
