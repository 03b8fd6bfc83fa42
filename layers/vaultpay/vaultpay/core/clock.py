"""The clock the services use (tests give the logic a clock of their own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

# India Standard Time: days, months and daily limits are counted in it. UTC+05:30 all year (no
# daylight saving), so a fixed offset is exact.
IST = timezone(timedelta(hours=5, minutes=30), "IST")


def utc_now() -> datetime:
    return datetime.now(UTC)
