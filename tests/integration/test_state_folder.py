"""One stack per state folder, and a stack killed hard leaves nothing running and loses nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from local.processes import start_time
from local.template import ROOT
from tests.support.api import Api, User
from tests.support.processes import alive, descendants
from tests.support.stack import running_stack, start_stack

pytestmark = [pytest.mark.stack, pytest.mark.own_stacks]

EXIT_TIMEOUT_SECONDS = 30
ACKNOWLEDGED_PER_SENDER_BEFORE_THE_KILL = 6
SENDERS = 4


def ledger_paise(history: list[dict[str, Any]]) -> int:
    """What a user's history adds up to: what was received (the welcome credit too) less what was sent."""
    total = 0
    for entry in history:
        if entry["status"] == "SUCCESS":
            rupees, _, paise = entry["amount"].partition(".")
            total += (int(rupees) * 100 + int(paise)) * (1 if entry["direction"] == "received" else -1)
    return total


def recorded_children(state_dir: Path) -> list[dict[str, int]]:
    lines = (state_dir / "children.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def wait_until_gone(pids: set[int]) -> set[int]:
    """The pids among ``pids`` still alive once the kernel has had time to deliver their signals."""
    deadline = time.monotonic() + EXIT_TIMEOUT_SECONDS
    while {pid for pid in pids if alive(pid)} and time.monotonic() < deadline:
        time.sleep(0.1)
    return {pid for pid in pids if alive(pid)}


def run_second_stack(state_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", "run", "--port", "0", "--state-dir", str(state_dir)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'vaultpay'}:{ROOT}"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_second_stack_on_a_folder_in_use_refuses_and_names_the_stack_holding_it(tmp_path: Path) -> None:
    # Given a stack keeping its data in a folder
    with running_stack(tmp_path, in_memory=False) as first:
        before = {path: path.read_bytes() for path in (tmp_path / "stack.json", tmp_path / "children.jsonl")}
        files_before = sorted(tmp_path.rglob("*"))
        # When a second stack is started on the same folder
        second = run_second_stack(tmp_path)
        # Then it exits non-zero, naming the first one's URL, having started and changed nothing
        assert second.returncode == 1
        assert f"in use by the stack at {first.url}" in second.stderr
        assert "VaultPay is running" not in second.stdout
        assert sorted(tmp_path.rglob("*")) == files_before
        assert {path: path.read_bytes() for path in before} == before
        # And the first one serves on, with its database
        api = Api(first.url)
        user = api.new_user()
        assert api.balance_paise(user) == 1_000_000


def test_a_start_stops_what_a_dead_stack_left_running_before_it_opens_the_database(tmp_path: Path) -> None:
    # Given a folder whose record names a process still running, as a stack killed before its
    # children could be stopped leaves it (a stand-in that would otherwise sleep on)
    leftover = subprocess.Popen(["sleep", "600"], start_new_session=True)
    (tmp_path / "children.jsonl").write_text(json.dumps({"pid": leftover.pid, "start": start_time(leftover.pid)}) + "\n")
    try:
        # When a stack starts on that folder
        with running_stack(tmp_path, in_memory=False) as running:
            # Then the leftover was stopped, and the console says so
            assert leftover.wait(timeout=EXIT_TIMEOUT_SECONDS) != 0
            assert f"pids [{leftover.pid}]" in running.logs()
            assert Api(running.url).get("/api/health").status_code == 200
    finally:
        leftover.kill()
        leftover.wait()


class Load:
    """Senders paying one receiver Rs 1.00 at a time, concurrently, until the API stops answering;
    the reference of every transfer acknowledged with a 201, per sender."""

    def __init__(self, api: Api, senders: list[User], receiver: User) -> None:
        self.api, self.senders, self.receiver = api, senders, receiver
        self.acknowledged: dict[str, list[str]] = {sender.email: [] for sender in senders}
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._pay, args=(sender,), daemon=True) for sender in senders]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def fewest(self) -> int:
        """The number of transfers acknowledged to the sender with the fewest."""
        with self._lock:
            return min(len(references) for references in self.acknowledged.values())

    def _pay(self, sender: User) -> None:
        client = Api(self.api.base_url, timeout=120)  # a worker's cold start on two busy cores takes seconds
        while True:
            try:
                response = client.transfer(sender, self.receiver, "1.00")
            except requests.RequestException:
                return  # the stack is gone (refused, reset, or a response cut short)
            if response.status_code == 201:
                with self._lock:
                    self.acknowledged[sender.email].append(response.json()["reference_id"])

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=EXIT_TIMEOUT_SECONDS)


def test_a_stack_killed_under_load_leaves_nothing_running_and_loses_no_acknowledged_transfer(tmp_path: Path) -> None:
    # Given a stack keeping its data in a folder, and senders paying a receiver concurrently
    first = start_stack(tmp_path, in_memory=False, faults=False)
    api = Api(first.url)
    senders = [api.new_user() for _ in range(SENDERS)]
    receiver = api.new_user()
    load = Load(api, senders, receiver)
    load.start()
    deadline = time.monotonic() + 120
    while load.fewest() < ACKNOWLEDGED_PER_SENDER_BEFORE_THE_KILL and time.monotonic() < deadline:
        time.sleep(0.05)
    assert load.fewest() >= ACKNOWLEDGED_PER_SENDER_BEFORE_THE_KILL
    children = {int(record["pid"]) for record in recorded_children(tmp_path)} | descendants(first.process.pid)
    assert len(children) >= 2 + SENDERS  # DynamoDB Local, moto and the workers serving the load

    # When it is killed with SIGKILL, transfers in flight
    first.process.kill()
    first.process.wait()
    load.join()

    # Then every process it started dies with it
    assert wait_until_gone(children) == set()
    # And a stack started on the same folder opens the same database
    with running_stack(tmp_path, in_memory=False, faults=False) as second:
        api = Api(second.url)
        for user in (*senders, receiver):
            api.login(user)
        # Where every acknowledged transfer is, committed
        for sender in senders:
            sent = {entry["reference_id"]: entry for entry in api.history(sender, direction="sent")}
            assert len(load.acknowledged[sender.email]) >= ACKNOWLEDGED_PER_SENDER_BEFORE_THE_KILL
            assert set(load.acknowledged[sender.email]) <= set(sent)
            assert {entry["status"] for entry in sent.values()} == {"SUCCESS"}
        # And each balance is what its ledger says: a transfer in flight at the kill committed
        # whole (both sides, both balances) or not at all
        for user in (*senders, receiver):
            assert api.balance_paise(user) == ledger_paise(api.history(user))
        from_senders = [entry for entry in api.history(receiver) if entry["counterparty"]["email"] in load.acknowledged]
        assert len(from_senders) == sum(len(api.history(sender, direction="sent")) for sender in senders)
        # And nothing the first stack started is running
        assert {pid for pid in children if alive(pid)} == set()
