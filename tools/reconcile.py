"""Reconciliation: the whole ledger checked against itself and against the audit trail.

Over the whole main table (local or deployed) and the audit table:
  - all balances, the system (issuance) account's included, sum to zero: the system account is
    sharded (SYSTEM-00, SYSTEM-01, ..., and the legacy unsharded SYSTEM of an older table), and
    its shards' balances sum to minus the money issued, which equals the welcome credits recorded;
  - no balance is below zero but the system account's shards';
  - every account's successful ledger entries replay to its balance;
  - every successful transaction has exactly two ledger entries (sent, received) that agree
    with it, a failed one exactly one (sent) and moved nothing;
  - every successful transaction has its audit records (created, debit, credit), and no
    audit record is flagged as a mismatch;
  - money held in loans' escrows counts with the balances (balances + escrows sum to zero), and
    for every loan: escrow = its open commitments (nothing once disbursed), funded = all its
    commitments, and once disbursed, outstanding principal = disbursed - principal repaid, with
    its repayments' transactions adding up to what its schedule says was paid.

    python -m tools.reconcile                 # the running local stack (make reconcile)
    python -m tools.reconcile --stack vaultpay-dev [--region ap-south-1]   # a deployed stack

Prints a report; exits 1 on any violation, naming the accounts and transactions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local.stack import ServiceEndpoints
from local.template import ROOT
from vaultpay.core import table as keys
from vaultpay.core.dynamo import unmarshal
from vaultpay.core.money import format_paise
from vaultpay.core.records import balance_moves, is_system_account, ledger_sides

Item = dict[str, Any]


@dataclass
class Report:
    accounts: int = 0
    transactions: int = 0
    ledger_entries: int = 0
    audit_records: int = 0
    issued: int = 0
    system_shards: int = 0
    user_balances: int = 0
    loans: int = 0
    escrow: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.violations

    def render(self) -> str:
        lines = [
            "VaultPay reconciliation",
            f"  accounts           {self.accounts}",
            f"  transactions       {self.transactions}",
            f"  ledger entries     {self.ledger_entries}",
            f"  audit records      {self.audit_records}",
            f"  money issued       Rs {format_paise(self.issued)} (by {self.system_shards} system account shard(s))",
            f"  held by users      Rs {format_paise(self.user_balances)}",
            f"  loans              {self.loans}",
            f"  held in escrow     Rs {format_paise(self.escrow)}",
        ]
        if self.clean:
            lines.append("OK: every check passed")
        else:
            lines.append(f"FAILED: {len(self.violations)} violation(s)")
            lines.extend(f"  - {violation}" for violation in self.violations)
        return "\n".join(lines)


def check(main_items: Iterable[Item], audit_items: Iterable[Item]) -> Report:
    report = Report()
    accounts: dict[str, Item] = {}
    transactions: dict[str, Item] = {}
    ledger: dict[str, list[Item]] = defaultdict(list)
    loans: dict[str, Item] = {}
    commitments: dict[str, list[Item]] = defaultdict(list)
    for item in main_items:
        item_type = item.get("type")
        if item_type == keys.TYPE_LOAN:
            loans[item["loan_id"]] = item
        elif item_type == keys.TYPE_COMMITMENT:
            commitments[item["loan_id"]].append(item)
        elif item_type == keys.TYPE_ACCOUNT:
            accounts[item["user_id"]] = item
        elif item_type == keys.TYPE_TXN:
            transactions[item["reference_id"]] = item
        elif item_type == keys.TYPE_LEDGER:
            ledger[keys.user_id_of(item[keys.PK])].append(item)
    audits = list(audit_items)
    report.accounts = len(accounts)
    report.transactions = len(transactions)
    report.ledger_entries = sum(len(entries) for entries in ledger.values())
    report.audit_records = len(audits)

    # Balances: conservation, issuance, no negative balance.
    system = [account for user_id, account in accounts.items() if is_system_account(user_id)]
    report.system_shards = len(system)
    report.issued = -sum(int(account["balance"]) for account in system)
    report.user_balances = sum(int(account["balance"]) for user_id, account in accounts.items() if not is_system_account(user_id))
    report.loans = len(loans)
    report.escrow = sum(int(loan["escrow"]) for loan in loans.values())
    total = sum(int(account["balance"]) for account in accounts.values()) + report.escrow
    if total != 0:
        report.violations.append(f"balances and escrows sum to {format_paise(total)}, not 0.00")
    report.violations.extend(_loan_violations(loans, commitments, transactions))
    welcome_credits = sum(
        int(txn["amount"]) for txn in transactions.values() if txn["kind"] == "WELCOME_CREDIT" and txn["status"] == "SUCCESS"
    )
    if report.issued != welcome_credits:
        report.violations.append(
            f"the system account issued {format_paise(report.issued)} but welcome credits total {format_paise(welcome_credits)}"
        )
    for user_id, account in sorted(accounts.items()):
        if not is_system_account(user_id) and int(account["balance"]) < 0:
            report.violations.append(f"account {user_id} is negative: {format_paise(int(account['balance']))}")

    # Ledger replay.
    for user_id, account in sorted(accounts.items()):
        replayed = sum(
            int(entry["amount"]) * (1 if entry["direction"] == "received" else -1)
            for entry in ledger.get(user_id, [])
            if entry["status"] != "FAILED"
        )
        if replayed != int(account["balance"]):
            report.violations.append(
                f"account {user_id}: ledger replays to {format_paise(replayed)}, "
                f"balance is {format_paise(int(account['balance']))}"
            )

    # Transactions against their ledger entries.
    entries_by_reference: dict[str, list[tuple[str, Item]]] = defaultdict(list)
    for user_id, entries in ledger.items():
        for entry in entries:
            entries_by_reference[entry["reference_id"]].append((user_id, entry))
    for reference, txn in sorted(transactions.items()):
        found = entries_by_reference.pop(reference, [])
        expected = Counter(
            (party.user_id, direction, amount) for party, direction, amount in ledger_sides(keys.transaction_from_item(txn))
        )
        actual = Counter((user_id, entry["direction"], int(entry["amount"])) for user_id, entry in found)
        if actual != expected:
            report.violations.append(f"transaction {reference} ({txn['status']}) has ledger entries {sorted(actual.elements())}")
        for user_id, entry in found:
            if entry["status"] != txn["status"]:
                report.violations.append(f"transaction {reference}: the ledger entry of {user_id} disagrees with it")
    for reference in sorted(entries_by_reference):
        report.violations.append(f"ledger entries name transaction {reference}, which does not exist")

    report.violations.extend(_audit_violations(transactions, audits))
    return report


def _loan_violations(loans: dict[str, Item], commitments: dict[str, list[Item]], transactions: dict[str, Item]) -> list[str]:
    violations = []
    repaid: Counter[str] = Counter()
    disbursed: Counter[str] = Counter()
    for txn in transactions.values():
        if txn.get("kind") == "LOAN_REPAYMENT":
            repaid[txn["loan_id"]] += int(txn["amount"])
        elif txn.get("kind") == "LOAN_DISBURSAL":
            disbursed[txn["loan_id"]] += int(txn["amount"])
    for loan_id, loan in sorted(loans.items()):
        held = sum(int(c["amount"]) for c in commitments[loan_id] if c["status"] == "COMMITTED")
        in_escrow = held if loan["status"] in ("OPEN", "CANCELLED", "EXPIRED") else 0
        if int(loan["escrow"]) != in_escrow:
            violations.append(
                f"loan {loan_id}: escrow {format_paise(int(loan['escrow']))}, open commitments {format_paise(in_escrow)}"
            )
        committed = sum(int(c["amount"]) for c in commitments[loan_id])
        if int(loan["funded"]) != committed:
            violations.append(
                f"loan {loan_id}: funded {format_paise(int(loan['funded']))}, commitments {format_paise(committed)}"
            )
        if loan["status"] not in ("ACTIVE", "REPAID", "DEFAULTED"):
            continue
        schedule = loan.get("schedule") or []
        principal_repaid = sum(int(i["principal"]) for i in schedule if i["status"] == "PAID")
        if disbursed[loan_id] != int(loan["amount"]):
            violations.append(
                f"loan {loan_id}: disbursed {format_paise(disbursed[loan_id])} of {format_paise(int(loan['amount']))}"
            )
        if int(loan["principal_outstanding"]) != disbursed[loan_id] - principal_repaid or principal_repaid != int(
            loan["principal_repaid"]
        ):
            violations.append(
                f"loan {loan_id}: outstanding principal {format_paise(int(loan['principal_outstanding']))}, "
                f"disbursed - repaid = {format_paise(disbursed[loan_id] - principal_repaid)}"
            )
        paid = sum(int(i.get("paid_amount", 0)) for i in schedule if i["status"] == "PAID")
        if repaid[loan_id] != paid:
            violations.append(
                f"loan {loan_id}: repayments total {format_paise(repaid[loan_id])}, the schedule {format_paise(paid)}"
            )
    return violations


def _audit_violations(transactions: dict[str, Item], audits: list[Item]) -> list[str]:
    violations = []
    created = {record["details"].get("reference_id") for record in audits if record["kind"] == "transaction_created"}
    moved: Counter[tuple[str, str]] = Counter()
    for record in audits:
        details = record["details"]
        if record["kind"] in ("account_debited", "account_credited", "account_opened") and details.get("reference_id"):
            moved[(details["reference_id"], details["user_id"])] += 1
        if record.get("verified") is False:
            violations.append(f"audit record {record['event_id']} flags {record['subject']}: {record.get('mismatch')}")
    for reference, txn in sorted(transactions.items()):
        if reference not in created:
            violations.append(f"transaction {reference} has no audit record")
        for party, _direction, _amount in balance_moves(keys.transaction_from_item(txn)):
            seen = moved[(reference, party.user_id)]
            if seen != 1:
                violations.append(f"transaction {reference}: {seen} audit record(s) of {party.user_id}'s balance change")
    return violations


def scan(client: Any, table: str) -> list[Item]:
    found: list[Item] = []
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        found.extend(unmarshal(item) for item in page["Items"])
    return found


def reconcile(client: Any, main_table: str, audit_table: str, *, audit_grace_seconds: float = 0) -> Report:
    """Check the tables; while audit records are missing, wait up to ``audit_grace_seconds``
    for the stream consumer to catch up (it lags the writes by design)."""
    main_items = scan(client, main_table)
    deadline = time.monotonic() + audit_grace_seconds
    while True:
        report = check(main_items, scan(client, audit_table))
        if report.clean or time.monotonic() >= deadline:
            return report
        time.sleep(0.5)


def _local_target(state_dir: Path) -> tuple[Any, str, str]:
    stack_file = state_dir / "stack.json"
    if not stack_file.exists():
        sys.exit("the local stack is not running: start it with `make run`")
    info = json.loads(stack_file.read_text())
    client = ServiceEndpoints(**info["endpoints"]).client("dynamodb")
    return client, info["resources"]["MainTable"], info["resources"]["AuditTable"]


def _deployed_target(stack_name: str, region: str | None) -> tuple[Any, str, str]:
    outputs = {
        output["OutputKey"]: output["OutputValue"]
        for output in boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack_name)["Stacks"][0][
            "Outputs"
        ]
    }
    return boto3.client("dynamodb", region_name=region), outputs["MainTableName"], outputs["AuditTableName"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", help="a deployed stack's name (default: the running local stack)")
    parser.add_argument("--region")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".local")
    parser.add_argument("--audit-grace", type=float, default=10.0, help="seconds to let the audit trail catch up")
    args = parser.parse_args()
    client, main_table, audit_table = _deployed_target(args.stack, args.region) if args.stack else _local_target(args.state_dir)
    report = reconcile(client, main_table, audit_table, audit_grace_seconds=args.audit_grace)
    print(report.render())
    sys.exit(0 if report.clean else 1)


if __name__ == "__main__":
    main()
