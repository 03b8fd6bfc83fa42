"""Jepsen's bank workload, over HTTP, against the local stack.

Concurrent clients move random amounts among a few accounts (high contention). Some requests
are sent again with the same Idempotency-Key after they succeeded, some while the first is
still in flight; clients give up waiting after a short timeout and retry later with the same
key, as a careful mobile client would. While it runs, a checker reads every balance in one
serializable TransactGetItems and checks that no money was made or lost and none went
negative. Afterwards: every acknowledged transfer is in both histories and the audit trail,
each key moved money at most once, and reconciliation is clean.
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

from tests.support.api import Api, User
from tests.support.stack import RunningStack
from tools.reconcile import reconcile, scan
from vaultpay.logic.wallet import reference_for

WELCOME_PAISE = 1_000_000
SETTLING_STATUSES = (201, 404, 422)  # final answers: done, no such receiver, refused (e.g. insufficient funds)


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
    snapshots_checked: int = 0
    violations: list[str] = field(default_factory=list)

    def render(self, title: str) -> str:
        return "\n".join(
            [
                title,
                f"  requests sent            {self.requests_sent}",
                f"  transfers acknowledged   {self.transfers_acknowledged}",
                f"  duplicates absorbed      {self.duplicates_absorbed}",
                f"  client timeouts          {self.client_timeouts}",
                f"  faults injected          {self.faults_injected}",
                f"  balance snapshots        {self.snapshots_checked}",
                f"  invariant violations     {len(self.violations)}",
                *(f"    - {violation}" for violation in self.violations),
            ]
        )


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
    def _snapshot(self, users: list[User]) -> None:
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
        balances = [int(entry["Item"]["balance"]["N"]) for entry in response["Responses"]]
        self.counters.add("snapshots")
        if sum(balances) != WELCOME_PAISE * len(users):
            self._violation(f"a snapshot's balances sum to {sum(balances)}, not {WELCOME_PAISE * len(users)}")
        if min(balances) < 0:
            self._violation(f"a snapshot has a negative balance: {min(balances)}")

    def _checker(self, users: list[User], stop: threading.Event) -> None:
        while not stop.wait(self.config.check_interval_seconds):
            self._snapshot(users)

    # ------------------------------------------------------------ the run
    def run(self) -> BankResult:
        api = Api(self.stack.url)
        users = [api.new_user(full_name=f"Bank {index}") for index in range(self.config.accounts)]
        transfers = []
        for index in range(self.config.transfers):
            sender, receiver = self.rng.sample(users, 2)
            amount = f"{self.rng.randint(1, 6000)}.{self.rng.randint(0, 99):02d}"
            transfers.append(_Transfer(sender, receiver, amount, f"bank-{self.config.seed}-{index}-{uuid.uuid4().hex[:8]}"))
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
            faults_injected = sum(int(rule.get("injected", 0)) for rule in self.stack.fault_rules())
            self.stack.set_faults()
        self._snapshot(users)
        self._check_after(api, users, transfers)
        api.close()
        return BankResult(
            requests_sent=self.counters.values["requests"],
            transfers_acknowledged=sum(1 for transfer in transfers if transfer.acknowledged),
            duplicates_absorbed=self.counters.values["duplicates"],
            client_timeouts=self.counters.values["timeouts"],
            faults_injected=faults_injected,
            snapshots_checked=self.counters.values["snapshots"],
            violations=list(self.violations),
        )

    def _check_after(self, api: Api, users: list[User], transfers: list[_Transfer]) -> None:
        # Each key: one reference, derived from it, acknowledged consistently.
        planned = {reference_for(transfer.sender.id, transfer.key): transfer for transfer in transfers}
        for transfer in transfers:
            expected = reference_for(transfer.sender.id, transfer.key)
            if transfer.acknowledged - {expected}:
                self._violation(f"key {transfer.key} was acknowledged as {sorted(transfer.acknowledged)}")
        # Every successful transaction among these accounts is one of the planned ones, at most once.
        user_ids = {user.id for user in users}
        moved = [
            item
            for item in scan(self.stack.client("dynamodb"), self.stack.resource("MainTable"))
            if item.get("type") == "TXN" and item["kind"] == "TRANSFER" and item["sender"]["user_id"] in user_ids
        ]
        for item in moved:
            if item["reference_id"] not in planned:
                self._violation(f"transaction {item['reference_id']} belongs to no request")
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
