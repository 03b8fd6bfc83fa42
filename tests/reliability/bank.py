"""Jepsen's bank workload, over HTTP, against the local stack.

Concurrent clients move random amounts among a few accounts (high contention). Some requests
are sent again with the same Idempotency-Key after they succeeded, some while the first is
still in flight; clients give up waiting after a short timeout and retry later with the same
key, as a careful mobile client would. While it runs, a checker reads every balance in one
serializable TransactGetItems and checks that no money was made or lost and none went
negative (retrying the checker's own transient errors, recording any other as a failure).
Afterwards: every acknowledged transfer is in both histories and the audit trail, each key
moved money at most once, no account outside the bank changed or appeared and every new
transaction is between the bank's accounts, and reconciliation is clean.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from tests.support.api import Api, User
from tests.support.stack import RunningStack
from tools.reconcile import reconcile, scan
from vaultpay.core import table as keys
from vaultpay.wallet.logic import reference_for

WELCOME_PAISE = 1_000_000
SETTLING_STATUSES = (201, 404, 422)  # final answers: done, no such receiver, refused (e.g. insufficient funds)
SNAPSHOT_ATTEMPTS = 8  # per in-run snapshot; a snapshot that keeps racing transfers is skipped, not failed
FINAL_SNAPSHOT_ATTEMPTS = 40
# What a TransactGetItems may answer while transfers run, and is worth another try.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "TransactionCanceledException",  # only when every reason is a TransactionConflict (see _is_transient)
        "TransactionInProgressException",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
TRANSIENT_CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)
Item = dict[str, Any]
WALLET_FAILED = "[WalletFunction] invocation failed: "  # the gateway's log line for a failed invocation
STORE_FAILED = '"message":"idempotency store failed"'  # the wallet's own log line before its 503


def is_transient(error: BaseException) -> bool:
    """An error of the checker's own read worth retrying; anything else is a failure."""
    if isinstance(error, TRANSIENT_CONNECTION_ERRORS):
        return True
    if not isinstance(error, ClientError):
        return False
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code not in TRANSIENT_ERROR_CODES:
        return False
    if code != "TransactionCanceledException":
        return True
    reasons = [str(reason.get("Code") or "None") for reason in error.response.get("CancellationReasons") or []]
    if reasons:
        return "TransactionConflict" in reasons and set(reasons) <= {"None", "TransactionConflict"}
    return "TransactionConflict" in str(error.response.get("Error", {}).get("Message", ""))


def unknown_account_violations(
    before: dict[str, Item], after: dict[str, Item], known: set[str], new_transactions: list[Item]
) -> list[str]:
    """No unknown account: between two scans of the ACCOUNT items (by user id), only the bank's
    accounts changed, none appeared or vanished, and every new transaction is between them."""
    violations = [f"account {user_id} appeared during the run" for user_id in sorted(after.keys() - before.keys())]
    violations += [f"account {user_id} vanished during the run" for user_id in sorted(before.keys() - after.keys())]
    for user_id in sorted(before.keys() & after.keys() - known):
        if (before[user_id].get("balance"), before[user_id].get("version")) != (
            after[user_id].get("balance"),
            after[user_id].get("version"),
        ):
            violations.append(f"account {user_id}, not one of the bank's, changed during the run")
    for txn in new_transactions:
        for role in ("sender", "receiver"):
            party = (txn.get(role) or {}).get("user_id")
            if party not in known:
                violations.append(f"transaction {txn.get('reference_id')} has an unknown {role}: {party}")
    return violations


@dataclass
class BankConfig:
    clients: int = 8
    accounts: int = 5
    transfers: int = 200
    retry_after_success: float = 0.10
    retry_in_flight: float = 0.05
    client_timeout_seconds: float = 3.0
    settle_within_seconds: float = 60.0
    check_interval_seconds: float = 0.5
    faults: list[dict[str, Any]] = field(default_factory=list)
    seed: int = 1


@dataclass
class BankResult:
    requests_sent: int = 0
    transfers_acknowledged: int = 0
    duplicates_absorbed: int = 0
    client_timeouts: int = 0
    faults_injected: int = 0
    faults_by_kind: Counter[str] = field(default_factory=Counter)
    fault_rules: list[dict[str, Any]] = field(default_factory=list)  # the plan's rules with their counters, after the run
    answers: Counter[int] = field(default_factory=Counter)  # HTTP status -> how many
    function_failures: list[str] = field(default_factory=list)  # the wallet's failed invocations, from the gateway's log
    store_failures: int = 0  # times the wallet answered 503 because the idempotency store failed (from its log)
    snapshots_checked: int = 0
    snapshot_retries: int = 0
    snapshots_skipped: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.answers.items() if status >= 500)

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.faults_by_kind.items()))
        return [
            f"  requests sent            {self.requests_sent}",
            f"  transfers acknowledged   {self.transfers_acknowledged}",
            f"  duplicates absorbed      {self.duplicates_absorbed}",
            f"  client timeouts          {self.client_timeouts}",
            f"  5xx answers              {self.server_errors}",
            f"  failed invocations       {len(self.function_failures)} (and {self.store_failures} idempotency store failures)",
            f"  faults injected          {self.faults_injected}" + (f" ({kinds})" if kinds else ""),
            f"  balance snapshots        {self.snapshots_checked}"
            f" ({self.snapshot_retries} retries, {self.snapshots_skipped} skipped)",
            f"  invariant violations     {len(self.violations)}",
            *(f"    - {violation}" for violation in self.violations),
        ]

    def render(self, title: str) -> str:
        return "\n".join([title, *self.lines()])


@dataclass
class _Transfer:
    sender: User
    receiver: User
    amount: str
    key: str
    acknowledged: set[str] = field(default_factory=set)


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.values[name] += amount


class BankWorkload:
    def __init__(self, stack: RunningStack, config: BankConfig) -> None:
        self.stack = stack
        self.config = config
        self.rng = random.Random(config.seed)
        self._backoff = random.Random(config.seed + 1)
        self.counters = _Counters()
        self.violations: list[str] = []
        self._violations_lock = threading.Lock()
        self._local = threading.local()

    # ------------------------------------------------------------ plumbing
    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def _violation(self, text: str) -> None:
        with self._violations_lock:
            self.violations.append(text)

    def _send(self, transfer: _Transfer) -> requests.Response | None:
        self.counters.add("requests")
        try:
            response = self._session().post(
                f"{self.stack.url}/api/wallet/transfer/",
                json={"receiver_email": transfer.receiver.email, "amount": transfer.amount},
                headers={**transfer.sender.auth, "Idempotency-Key": transfer.key},
                timeout=self.config.client_timeout_seconds,
            )
        except requests.Timeout:
            self.counters.add("timeouts")
            return None
        self.counters.add(f"status {response.status_code}")
        if response.status_code == 201:
            transfer.acknowledged.add(response.json()["reference_id"])
            if response.headers.get("Idempotent-Replayed") == "true":
                self.counters.add("duplicates")
        return response

    def _settle(self, transfer: _Transfer) -> None:
        """Send until a final answer, with the same key, backing off on 409, 5xx and timeouts."""
        deadline = time.monotonic() + self.config.settle_within_seconds
        while True:
            response = self._send(transfer)
            if response is not None and response.status_code in SETTLING_STATUSES:
                return
            if time.monotonic() > deadline:
                status = "timeout" if response is None else response.status_code
                self._violation(f"key {transfer.key} never settled (last answer {status})")
                return
            retry_after = float(response.headers.get("Retry-After", "0.2")) if response is not None else 0.2
            time.sleep(min(retry_after, 1.0) * (0.5 + self.rng.random()))

    def _run_one(self, transfer: _Transfer) -> None:
        duplicate = None
        if self.rng.random() < self.config.retry_in_flight:
            # The same request again while the first is still in flight.
            duplicate = threading.Thread(target=self._settle, args=(transfer,))
            duplicate.start()
        self._settle(transfer)
        if self.rng.random() < self.config.retry_after_success:
            self._settle(transfer)
        if duplicate is not None:
            duplicate.join()

    # ------------------------------------------------------------ invariants during the run
    def _snapshot(self, users: list[User], attempts: int = SNAPSHOT_ATTEMPTS) -> bool:
        """One serializable read of every balance, checked; True when one was checked.

        Transient errors (a TransactGetItems racing a transfer is cancelled with
        TransactionConflict) are retried; any other error is recorded as a failure.
        """
        for attempt in range(attempts):
            try:
                response = self.stack.client("dynamodb").transact_get_items(
                    TransactItems=[
                        {
                            "Get": {
                                "TableName": self.stack.resource("MainTable"),
                                "Key": {"PK": {"S": f"USER#{user.id}"}, "SK": {"S": "ACCOUNT"}},
                            }
                        }
                        for user in users
                    ]
                )
            except Exception as error:  # noqa: BLE001 - classified: transient ones retried, the rest recorded
                if not is_transient(error):
                    self._violation(f"a balance snapshot failed: {type(error).__name__}: {error}")
                    return False
                self.counters.add("snapshot_retries")
                time.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + self._backoff.random()))
                continue
            try:
                balances = [int(entry["Item"]["balance"]["N"]) for entry in response["Responses"]]
            except (KeyError, TypeError, ValueError) as error:
                self._violation(f"a balance snapshot is unreadable (an account is missing?): {type(error).__name__}: {error}")
                return False
            if len(balances) != len(users):
                self._violation(f"a balance snapshot returned {len(balances)} accounts, not {len(users)}")
                return False
            self.counters.add("snapshots")
            if sum(balances) != WELCOME_PAISE * len(users):
                self._violation(f"a snapshot's balances sum to {sum(balances)}, not {WELCOME_PAISE * len(users)}")
            if min(balances) < 0:
                self._violation(f"a snapshot has a negative balance: {min(balances)}")
            return True
        self.counters.add("snapshots_skipped")
        return False

    def _checker(self, users: list[User], stop: threading.Event) -> None:
        while not stop.wait(self.config.check_interval_seconds):
            try:
                self._snapshot(users)
            except Exception as error:  # noqa: BLE001 - a bug in the checker must fail the run, not end the checks
                self._violation(f"the checker failed: {type(error).__name__}: {error}")

    def _accounts(self) -> tuple[dict[str, Item], set[str]]:
        """Every ACCOUNT item by user id, and every transaction's reference."""
        accounts: dict[str, Item] = {}
        references: set[str] = set()
        for item in scan(self.stack.client("dynamodb"), self.stack.resource("MainTable")):
            if item.get("type") == keys.TYPE_ACCOUNT:
                accounts[str(item["user_id"])] = item
            elif item.get("type") == keys.TYPE_TXN:
                references.add(str(item["reference_id"]))
        return accounts, references

    # ------------------------------------------------------------ the run
    def run(self) -> BankResult:
        api = Api(self.stack.url)
        users = [api.new_user(full_name=f"Bank {index}") for index in range(self.config.accounts)]
        transfers = []
        for index in range(self.config.transfers):
            sender, receiver = self.rng.sample(users, 2)
            amount = f"{self.rng.randint(1, 6000)}.{self.rng.randint(0, 99):02d}"
            transfers.append(_Transfer(sender, receiver, amount, f"bank-{self.config.seed}-{index}-{uuid.uuid4().hex[:8]}"))
        accounts_before, references_before = self._accounts()
        log_offset = len(self.stack.logs())
        self.stack.set_faults(*self.config.faults)
        stop = threading.Event()
        checker = threading.Thread(target=self._checker, args=(users, stop), daemon=True)
        checker.start()
        try:
            with ThreadPoolExecutor(max_workers=self.config.clients) as pool:
                futures = [pool.submit(self._run_one, transfer) for transfer in transfers]
                for future in futures:
                    future.result()
        finally:
            stop.set()
            checker.join()
            fault_rules = self.stack.fault_rules()
            self.stack.set_faults()
        if not self._snapshot(users, attempts=FINAL_SNAPSHOT_ATTEMPTS):
            self._violation(f"no balance snapshot succeeded after the run in {FINAL_SNAPSHOT_ATTEMPTS} attempts")
        self._check_after(api, users, transfers, accounts_before, references_before)
        api.close()
        faults_by_kind: Counter[str] = Counter()
        for rule in fault_rules:
            faults_by_kind[str(rule["fault"])] += int(rule.get("injected", 0))
        log = self.stack.logs()[log_offset:].splitlines()
        failures = [line.partition("invocation failed: ")[2] for line in log if line.startswith(WALLET_FAILED)]
        store_failures = sum(line.startswith("[WalletFunction] ") and STORE_FAILED in line for line in log)
        values = self.counters.values
        return BankResult(
            requests_sent=values["requests"],
            transfers_acknowledged=sum(1 for transfer in transfers if transfer.acknowledged),
            duplicates_absorbed=values["duplicates"],
            client_timeouts=values["timeouts"],
            faults_injected=sum(faults_by_kind.values()),
            faults_by_kind=+faults_by_kind,
            fault_rules=fault_rules,
            answers=Counter({int(name.split()[1]): count for name, count in values.items() if name.startswith("status ")}),
            function_failures=failures,
            store_failures=store_failures,
            snapshots_checked=values["snapshots"],
            snapshot_retries=values["snapshot_retries"],
            snapshots_skipped=values["snapshots_skipped"],
            violations=list(self.violations),
        )

    def _check_after(
        self,
        api: Api,
        users: list[User],
        transfers: list[_Transfer],
        accounts_before: dict[str, Item],
        references_before: set[str],
    ) -> None:
        # Each key: one reference, derived from it, acknowledged consistently.
        planned = {reference_for(transfer.sender.id, transfer.key): transfer for transfer in transfers}
        for transfer in transfers:
            expected = reference_for(transfer.sender.id, transfer.key)
            if transfer.acknowledged - {expected}:
                self._violation(f"key {transfer.key} was acknowledged as {sorted(transfer.acknowledged)}")
        # Every successful transaction among these accounts is one of the planned ones, at most once.
        user_ids = {user.id for user in users}
        main_items = scan(self.stack.client("dynamodb"), self.stack.resource("MainTable"))
        moved = [
            item
            for item in main_items
            if item.get("type") == keys.TYPE_TXN and item["kind"] == "TRANSFER" and item["sender"]["user_id"] in user_ids
        ]
        for item in moved:
            if item["reference_id"] not in planned:
                self._violation(f"transaction {item['reference_id']} belongs to no request")
        # No unknown account: nothing but the bank's accounts changed, and no transaction left them.
        accounts_after = {str(item["user_id"]): item for item in main_items if item.get("type") == keys.TYPE_ACCOUNT}
        new_transactions = [
            item for item in main_items if item.get("type") == keys.TYPE_TXN and item["reference_id"] not in references_before
        ]
        self.violations.extend(unknown_account_violations(accounts_before, accounts_after, user_ids, new_transactions))
        # Every acknowledged transfer is in both histories.
        histories = {user.id: {entry["reference_id"]: entry for entry in api.history(user)} for user in users}
        for transfer in transfers:
            for reference in transfer.acknowledged:
                sent = histories[transfer.sender.id].get(reference)
                received = histories[transfer.receiver.id].get(reference)
                if sent is None or sent["direction"] != "sent" or sent["status"] != "SUCCESS":
                    self._violation(f"acknowledged {reference} is missing from the sender's history")
                if received is None or received["direction"] != "received":
                    self._violation(f"acknowledged {reference} is missing from the receiver's history")
        # The ledger replays, the audit trail has every transfer: reconciliation over the whole table.
        report = reconcile(
            self.stack.client("dynamodb"),
            self.stack.resource("MainTable"),
            self.stack.resource("AuditTable"),
            audit_grace_seconds=60,
        )
        self.violations.extend(f"reconcile: {violation}" for violation in report.violations)
