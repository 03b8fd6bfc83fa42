"""The faults the bank workload runs under: every kind, deterministically, at least once.

Each rule fires on every N-th call it sees (``every``), a fixed number of times
(``remaining``), so the fault test can assert per kind that each fired exactly as planned
(see local/faults.py for the rule format). Single throttles and server errors are
absorbed by botocore's retries; the two bursts are longer than botocore's attempts, so the
call fails for good and the application's own handling (the invocation fails, the client
retries with the same key) is exercised too.
"""

from __future__ import annotations

from typing import Any

WALLET = "WalletFunction"
TRANSACT = "TransactWriteItems"
# dal/aws.py: standard retries, max_attempts=4 retries, so 5 attempts per call (a unit test checks it).
BOTOCORE_ATTEMPTS = 5


def fault_plan(idempotency_table: str, scale: int = 1) -> list[dict[str, Any]]:
    """The rules, with ``scale`` times the firings (1 in `make test`)."""

    def rule(fault: str, every: int, times: int, operation: str = TRANSACT, **extra: Any) -> dict[str, Any]:
        return {"fault": fault, "function": WALLET, "operation": operation, "every": every, "remaining": times * scale, **extra}

    return [
        # A throttling burst outlasting botocore's retries: the commit fails, the invocation fails.
        rule("throttle", 40, 1, burst=BOTOCORE_ATTEMPTS),
        # The idempotency store cannot record completion after the transfer committed: a 503.
        rule("server_error", 25, 1, operation="UpdateItem", table=idempotency_table, burst=BOTOCORE_ATTEMPTS),
        rule("throttle", 6, 4),
        rule("conflict", 5, 6),
        rule("lost_response", 8, 3),
        # The process dies after the commit, before the idempotency record completes.
        rule("crash_after_commit", 12, 2),
        rule("error_after_commit", 15, 2),
        rule("server_error", 6, 3, operation="UpdateItem", table=idempotency_table),
    ]


def planned_firings(rules: list[dict[str, Any]]) -> list[int]:
    return [int(rule["remaining"]) for rule in rules]
