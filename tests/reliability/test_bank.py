"""The bank workload: no money made or lost, each key at most once, no unknown account, with and
without faults; at the size tests/reliability/sizes.py gives (reduced in `make test`, full in
`make stress`)."""

from __future__ import annotations

import time

import pytest

from local.faults import FAULTS
from tests.reliability.bank import BankConfig, BankResult, BankWorkload
from tests.reliability.fault_plan import BOTOCORE_ATTEMPTS, fault_plan, planned_firings
from tests.reliability.report import record
from tests.reliability.sizes import SIZES
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.stack, pytest.mark.timeout(SIZES.test_timeout_seconds)]


def run(stack: RunningStack, config: BankConfig, title: str) -> BankResult:
    started = time.monotonic()
    result = BankWorkload(stack, config).run()
    record(f"{title} ({time.monotonic() - started:.0f} s)", result.lines(), len(result.violations))
    return result


def test_the_bank_under_contention_and_retries(stack: RunningStack) -> None:
    # Given clients moving money among a few accounts, with duplicates and client timeouts
    config = BankConfig(clients=SIZES.bank_clients, accounts=SIZES.bank_accounts, transfers=SIZES.bank_transfers, seed=11)
    # When they run
    result = run(stack, config, "bank")
    # Then no invariant was violated, during or after the run
    assert result.violations == [], result.render("bank")
    assert result.transfers_acknowledged > config.transfers // 3
    assert result.duplicates_absorbed > 0
    assert result.snapshots_checked > 1
    assert result.faults_injected == 0


def test_the_bank_under_injected_faults(stack: RunningStack) -> None:
    # Given the same workload while every kind of fault fires, each a planned number of times
    plan = fault_plan(stack.resource("IdempotencyTable"), scale=SIZES.fault_scale)
    config = BankConfig(
        clients=SIZES.bank_clients,
        accounts=SIZES.bank_accounts,
        transfers=SIZES.bank_fault_transfers,
        faults=plan,
        seed=12,
    )
    # When it runs
    result = run(stack, config, "bank with injected faults")
    report = result.render("bank with faults")
    # Then no money was made, lost or moved twice, and the checker saw the money during the run
    assert result.violations == [], report
    assert result.snapshots_checked > 0, report
    # And every rule fired exactly as often as planned: each kind of fault happened
    assert [rule.get("fired", 0) for rule in result.fault_rules] == planned_firings(plan), report
    assert set(result.faults_by_kind) == set(FAULTS), report
    assert min(result.faults_by_kind.values()) >= 1, report
    # And each burst was as long as botocore's attempts, so the call failed for good (sometimes
    # sooner: a throttled call backs off for seconds and may meet the function's timeout, and
    # botocore's retry quota may run out), and the idempotency store's burst became the 503
    bursts = {rule["fault"]: rule for rule in result.fault_rules if rule.get("burst")}
    assert set(bursts) == {"throttle", "server_error"}
    assert all(rule["burst"] >= BOTOCORE_ATTEMPTS for rule in bursts.values())
    assert result.store_failures >= bursts["server_error"]["fired"], report
    # And the application handled what botocore could not: each crash, error after commit and
    # throttling burst failed its invocation, yet every transfer settled
    fired = {kind: sum(rule.get("fired", 0) for rule in result.fault_rules if rule["fault"] == kind) for kind in FAULTS}
    throttle_bursts = bursts["throttle"]["fired"]
    assert len(result.function_failures) >= fired["crash_after_commit"] + fired["error_after_commit"] + throttle_bursts, report
    assert sum("Throttling" in failure or "timed out" in failure for failure in result.function_failures) >= throttle_bursts, (
        result.function_failures
    )
    assert result.transfers_acknowledged > config.transfers // 3, report
