"""Password-guessing limits, against an in-memory store with the DynamoDB adapter's atomicity and a fake clock."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.fakes import FakeAttemptStore as MemoryAttempts
from vaultpay.core.errors import AccountLocked
from vaultpay.identity.lockout import LoginGuard, LoginLimits, Reservation, client_key

OWNER_ADDRESS = "203.0.113.7"
STRANGER_ADDRESS = "198.51.100.66"
ACCOUNT = "asha@example.in"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # on a window boundary (900 s)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


LIMITS = LoginLimits(
    free_failures=5, base_delay_seconds=1, max_delay_seconds=300, pair_max_failures=5, address_max_failures=20, window_seconds=900
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> MemoryAttempts:
    return MemoryAttempts()


@pytest.fixture
def guard(store: MemoryAttempts, clock: Clock) -> LoginGuard:
    return LoginGuard(store=store, limits=LIMITS, clock=clock)


def fail(guard: LoginGuard, email: str = ACCOUNT, address: str = STRANGER_ADDRESS) -> Reservation:
    """One wrong password: reserved, checked, not handed back."""
    return guard.reserve(email, address)


def refused(guard: LoginGuard, email: str = ACCOUNT, address: str = STRANGER_ADDRESS) -> int:
    with pytest.raises(AccountLocked) as error:
        guard.reserve(email, address)
    assert error.value.retry_after_seconds is not None
    return error.value.retry_after_seconds


def parallel_reservations(guard: LoginGuard, addresses: list[str]) -> int:
    barrier = threading.Barrier(len(addresses))

    def attempt(address: str) -> bool:
        barrier.wait()
        try:
            guard.reserve(ACCOUNT, address)
        except AccountLocked:
            return False
        return True

    with ThreadPoolExecutor(len(addresses)) as pool:
        return sum(pool.map(attempt, addresses))


def test_twenty_parallel_attempts_from_one_address_check_at_most_five_passwords(guard: LoginGuard) -> None:
    # Given an account nobody has tried yet
    # When twenty password checks arrive at the same moment from one address
    checked = parallel_reservations(guard, [STRANGER_ADDRESS] * 20)
    # Then five are counted and checked, the other fifteen refused before any check
    assert checked == 5


def test_twenty_parallel_attempts_from_twenty_addresses_check_at_most_five_passwords(guard: LoginGuard) -> None:
    # Given an account, and an attacker with twenty addresses
    # When each sends one guess at the same moment
    checked = parallel_reservations(guard, [f"198.51.100.{index}" for index in range(20)])
    # Then the account's free failures bound them all: five checked
    assert checked == 5


def test_after_the_free_failures_the_delays_double_up_to_the_cap_and_never_lock_for_longer(
    guard: LoginGuard, clock: Clock
) -> None:
    # Given five failures, each from another address (a distributed attacker)
    addresses = (f"198.51.100.{index}" for index in range(1000))
    for _ in range(5):
        fail(guard, address=next(addresses))
    waits = []
    for _ in range(12):
        # When the next attempt comes at once, then once the wait it was told is over
        wait = refused(guard, address=next(addresses))
        waits.append(wait)
        clock.advance(wait)
        fail(guard, address=next(addresses))
    # Then each wait doubles from one second and stops at the cap: a delay, never a lock
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]


def test_a_strangers_failures_keep_the_owner_out_for_at_most_the_short_delay(guard: LoginGuard, clock: Clock) -> None:
    # Given a stranger who fails at the owner's account as often as they can, from their address
    for _ in range(5):
        fail(guard)
    for _ in range(50):
        refused(guard)
    # When the owner tries from their own address
    wait = refused(guard, address=OWNER_ADDRESS)
    # Then they wait one second (the stranger's address holds the streak at five), and get in
    assert wait == 1
    clock.advance(wait)
    guard.succeeded(guard.reserve(ACCOUNT, OWNER_ADDRESS))
    # And the stranger stays refused at this account until their window ends
    assert refused(guard) == 900 - 1


def test_an_address_that_fails_at_many_accounts_is_refused_everywhere_until_its_window_ends(
    guard: LoginGuard, clock: Clock
) -> None:
    # Given twenty failures from one address, four at each of five accounts
    clock.advance(100)
    for account in range(5):
        for _ in range(4):
            fail(guard, email=f"user{account}@example.in")
    # When it tries a sixth account
    wait = refused(guard, email="someone-else@example.in")
    # Then it is refused until the window ends, while another address may still try that account
    assert wait == 800
    guard.reserve("someone-else@example.in", OWNER_ADDRESS)
    clock.advance(wait)
    fail(guard, email="someone-else@example.in")


def test_refused_attempts_count_nowhere(guard: LoginGuard, store: MemoryAttempts) -> None:
    # Given an account that has had its free failures from one address
    for _ in range(5):
        fail(guard)
    # When the same address keeps trying, and is refused each time
    for _ in range(30):
        refused(guard)
    # Then nothing but the five checks was counted
    assert store.streaks[ACCOUNT].count == 5
    assert sorted(store.windows.values()) == [5, 5]


def test_a_success_forgets_the_accounts_failures_and_keeps_only_the_addresss_others(
    guard: LoginGuard, store: MemoryAttempts
) -> None:
    # Given four failures at an account and three at another, from one address
    for _ in range(4):
        fail(guard, address=OWNER_ADDRESS)
    for _ in range(3):
        fail(guard, email="other@example.in", address=OWNER_ADDRESS)
    # When the right password comes from that address
    guard.succeeded(guard.reserve(ACCOUNT, OWNER_ADDRESS))
    # Then the account starts afresh, and the address keeps only its seven failures
    assert ACCOUNT not in store.streaks
    address = next(counter for counter in store.windows if counter.email is None)
    assert store.windows[address] == 7
    for _ in range(5):
        fail(guard, address=OWNER_ADDRESS)


def test_a_streak_is_forgotten_a_window_after_its_last_attempt(guard: LoginGuard, clock: Clock) -> None:
    # Given an account with its free failures used, from several addresses
    for index in range(5):
        fail(guard, address=f"198.51.100.{index}")
    # When a window passes without attempts
    clock.advance(901)
    # Then five more failures are free again, whatever DynamoDB's TTL has done
    for index in range(5):
        fail(guard, address=f"192.0.2.{index}")


def test_unknown_and_known_accounts_are_limited_alike(guard: LoginGuard) -> None:
    # The guard never asks whether the account exists: the same answers for any e-mail address
    for email in (ACCOUNT, "nobody@example.in"):
        for _ in range(5):
            fail(guard, email=email)
        assert refused(guard, email=email) == 900


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("", "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_an_ipv6_client_is_counted_by_its_64_network(address: str, key: str) -> None:
    assert client_key(address) == key
