"""Temporary lockout after repeated failed password checks (login and Aadhaar reveal)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vaultpay.core.errors import AccountLocked
from vaultpay.identity.ports import FailureStore


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    window_seconds: int
    lockout_seconds: int


@dataclass(frozen=True)
class LoginGuard:
    """``max_failures`` failures within ``window_seconds`` lock the account for ``lockout_seconds``.

    Expiry is checked here against the clock, never left to DynamoDB's TTL (which can lag by days).
    """

    store: FailureStore
    policy: LockoutPolicy
    clock: Callable[[], datetime]

    def _now(self) -> int:
        return int(self.clock().timestamp())

    def ensure_not_locked(self, email: str) -> None:
        state = self.store.get(email)
        now = self._now()
        if state is not None and state.locked_until is not None and state.locked_until > now:
            raise AccountLocked(retry_after_seconds=state.locked_until - now)

    def record_failure(self, email: str) -> None:
        now = self._now()
        keep_until = now + self.policy.window_seconds + self.policy.lockout_seconds
        failures = self.store.add_failure(email, now, self.policy.window_seconds, keep_until)
        if failures >= self.policy.max_failures:
            self.store.lock(email, now + self.policy.lockout_seconds)

    def clear(self, email: str) -> None:
        self.store.clear(email)
