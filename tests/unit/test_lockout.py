"""The login lockout, against the clock: five failures in the window lock, and the lock lifts by itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vaultpay.core.errors import AccountLocked
from vaultpay.identity.lockout import LockoutPolicy, LoginGuard
from vaultpay.identity.models import LoginFailures


class MemoryFailures:
    def __init__(self) -> None:
        self.state: dict[str, LoginFailures] = {}

    def get(self, email: str) -> LoginFailures | None:
        return self.state.get(email)

    def add_failure(self, email: str, now: int, window_seconds: int, keep_until: int) -> int:
        current = self.state.get(email)
        if current is None or current.window_started_at <= now - window_seconds:
            self.state[email] = LoginFailures(count=1, window_started_at=now)
        else:
            self.state[email] = current.model_copy(update={"count": current.count + 1})
        return self.state[email].count

    def lock(self, email: str, until: int) -> None:
        self.state[email] = self.state[email].model_copy(update={"locked_until": until})

    def clear(self, email: str) -> None:
        self.state.pop(email, None)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guard(clock: Clock) -> LoginGuard:
    return LoginGuard(
        store=MemoryFailures(), policy=LockoutPolicy(max_failures=5, window_seconds=900, lockout_seconds=900), clock=clock
    )


def test_five_failures_lock_with_the_time_left_then_it_unlocks_by_itself(guard: LoginGuard, clock: Clock) -> None:
    for _ in range(5):
        guard.ensure_not_locked("a@example.com")
        guard.record_failure("a@example.com")
    with pytest.raises(AccountLocked) as locked:
        guard.ensure_not_locked("a@example.com")
    assert locked.value.retry_after_seconds == 900
    clock.now += timedelta(minutes=10)
    with pytest.raises(AccountLocked) as still:
        guard.ensure_not_locked("a@example.com")
    assert still.value.retry_after_seconds == 300
    clock.now += timedelta(minutes=5, seconds=1)
    guard.ensure_not_locked("a@example.com")  # unlocked, whatever DynamoDB's TTL has done


def test_failures_spread_beyond_the_window_never_lock(guard: LoginGuard, clock: Clock) -> None:
    for _ in range(12):
        guard.record_failure("a@example.com")
        clock.now += timedelta(minutes=4)
    guard.ensure_not_locked("a@example.com")


def test_a_success_forgets_the_failures(guard: LoginGuard) -> None:
    for _ in range(4):
        guard.record_failure("a@example.com")
    guard.clear("a@example.com")
    guard.record_failure("a@example.com")
    guard.ensure_not_locked("a@example.com")


def test_one_address_locking_does_not_lock_another(guard: LoginGuard) -> None:
    for _ in range(5):
        guard.record_failure("a@example.com")
    guard.ensure_not_locked("b@example.com")
