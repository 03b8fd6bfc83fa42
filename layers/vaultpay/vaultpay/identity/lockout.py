"""Password-guessing limits for login and the Aadhaar reveal's step-up.

Every password check is *counted before it runs*: each counter is reserved by one conditional
write that increments it and refuses past its limit, so parallel guesses cannot outrun it
(twenty at once verify at most the limit, not twenty). Three counters, from the outside in:

- the client address: ``address_max_failures`` per ``window_seconds`` across all accounts, then
  that address is refused until the window ends. It stops spraying from one address and is the
  one that *blocks*; it is never keyed by the account, so it locks no one else out.
- the account from that address: ``pair_max_failures`` per ``window_seconds``; past it this
  address may not try this account again until the window ends. A stranger gets a handful of
  guesses at someone's account, then only their own address is refused.
- the account from every address (the streak): the first ``free_failures`` are free, then each
  further attempt waits ``base_delay_seconds`` doubled per failure, capped at
  ``max_delay_seconds``. Never an indefinite lock: whoever has the password waits at most the
  cap, and since one address adds at most ``pair_max_failures`` to the streak, a stranger alone
  delays the owner by about ``base_delay_seconds``. The streak is forgotten
  ``window_seconds`` after its last attempt, or at once on success.

Attempts refused by an outer counter are given back to the counters already reserved, so the
counts are of passwords actually checked. A correct password clears the streak and the account's
counter for that address and gives back the address's reservation: only failures remain.

Unknown e-mail addresses are counted exactly like known ones, so limits enumerate no one. Expiry
is checked here against the clock, never left to DynamoDB's TTL (which can lag by days).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vaultpay.core.errors import AccountLocked
from vaultpay.identity.models import LoginStreak, WindowCounter
from vaultpay.identity.ports import AttemptStore

UNKNOWN_ADDRESS = "unknown"


def client_key(address: str) -> str:
    """The unit an address limit counts: an IPv4 address, or an IPv6 address's /64 (one subscriber's
    network: a single host can use any of its 2^64 addresses). Anything unparsable counts as one."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return UNKNOWN_ADDRESS
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


@dataclass(frozen=True)
class LoginLimits:
    free_failures: int = 5
    base_delay_seconds: int = 1
    max_delay_seconds: int = 300
    pair_max_failures: int = 5
    address_max_failures: int = 20
    window_seconds: int = 900

    def delay_after(self, failures: int) -> int:
        """How long the streak makes everyone wait after ``failures`` attempts (0 while free)."""
        if failures < self.free_failures:
            return 0
        exponent = min(failures - self.free_failures, 30)
        return int(min(self.max_delay_seconds, self.base_delay_seconds * 2**exponent))


@dataclass(frozen=True)
class Reservation:
    """One password check, counted on all three counters; hand it back to ``LoginGuard.succeeded``."""

    email: str
    address: WindowCounter
    pair: WindowCounter


@dataclass(frozen=True)
class LoginGuard:
    store: AttemptStore
    limits: LoginLimits
    clock: Callable[[], datetime]

    def _now(self) -> int:
        return int(self.clock().timestamp())

    def reserve(self, email: str, client_address: str) -> Reservation:
        """Count one password check for ``email`` from ``client_address``, before it runs; raise
        AccountLocked (with the seconds to wait) if any counter is at its limit."""
        now = self._now()
        window = self.limits.window_seconds
        window_start = now - now % window
        window_end = window_start + window
        client = client_key(client_address)
        address = WindowCounter(address=client, email=None, window_start=window_start)
        pair = WindowCounter(address=client, email=email, window_start=window_start)
        if self.store.count_in_window(address, self.limits.address_max_failures, window_end) is None:
            raise AccountLocked(retry_after_seconds=window_end - now)
        if self.store.count_in_window(pair, self.limits.pair_max_failures, window_end) is None:
            self.store.uncount(address)
            raise AccountLocked(retry_after_seconds=window_end - now)
        try:
            self._extend_streak(email, now)
        except AccountLocked:
            self.store.uncount(pair)
            self.store.uncount(address)
            raise
        return Reservation(email=email, address=address, pair=pair)

    def _extend_streak(self, email: str, now: int) -> None:
        limits = self.limits
        recent_since = now - limits.window_seconds
        keep_until = now + limits.window_seconds + limits.max_delay_seconds
        # The common case, one conditional write: a recent streak still within its free attempts.
        if self.store.extend_streak(email, limits.free_failures, recent_since, now, keep_until) is not None:
            return
        current = self.store.get_streak(email)
        if current is None or current.last_attempt_at < recent_since:
            count = 1  # forgotten: a new streak
        else:
            allowed_at = current.last_attempt_at + limits.delay_after(current.count)
            if allowed_at > now:
                raise AccountLocked(retry_after_seconds=allowed_at - now)
            count = current.count + 1
        # Take the slot only if no one else took it since we read (compare-and-set on the count).
        if not self.store.replace_streak(email, current, LoginStreak(count=count, last_attempt_at=now), keep_until):
            raise AccountLocked(retry_after_seconds=max(1, limits.delay_after(count)))

    def succeeded(self, reservation: Reservation) -> None:
        """The password was right: forget the account's failures, keep only the address's others."""
        self.store.clear_streak(reservation.email)
        self.store.forget(reservation.pair)
        self.store.uncount(reservation.address)
