"""The bank workload at test size: no money made or lost, each key at most once, with and without faults."""

from __future__ import annotations

import pytest

from tests.reliability.bank import BankConfig, BankWorkload
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack

WALLET = "WalletFunction"
FAULTS = [
    {"fault": "throttle", "function": WALLET, "operation": "TransactWriteItems", "probability": 0.05},
    {"fault": "conflict", "function": WALLET, "operation": "TransactWriteItems", "probability": 0.05},
    {"fault": "lost_response", "function": WALLET, "operation": "TransactWriteItems", "probability": 0.03},
    {"fault": "crash_after_commit", "function": WALLET, "operation": "TransactWriteItems", "probability": 0.02},
    {"fault": "error_after_commit", "function": WALLET, "operation": "TransactWriteItems", "probability": 0.02},
    {"fault": "server_error", "function": WALLET, "operation": "UpdateItem", "probability": 0.05},
]


def test_the_bank_under_contention_and_retries(stack: RunningStack) -> None:
    # Given eight clients moving money among five accounts, with duplicates and client timeouts
    config = BankConfig(clients=8, accounts=5, transfers=150, seed=11)
    # When they run
    result = BankWorkload(stack, config).run()
    # Then no invariant was violated, during or after the run
    assert result.violations == [], result.render("bank")
    assert result.transfers_acknowledged > 50
    assert result.snapshots_checked > 1


def test_the_bank_under_injected_faults(stack: RunningStack) -> None:
    # Given the same workload while DynamoDB throttles, conflicts, loses responses and processes die after commits
    config = BankConfig(clients=8, accounts=5, transfers=120, faults=FAULTS, seed=12)
    # When it runs
    result = BankWorkload(stack, config).run()
    # Then faults happened and still no money was made, lost or moved twice
    assert result.faults_injected > 0
    assert result.violations == [], result.render("bank with faults")
