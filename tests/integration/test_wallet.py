"""Transfers through the whole stack: atomic under concurrency, exactly once under retries and crashes."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.api import Api, User
from tests.support.stack import RunningStack
from vaultpay.wallet.logic import reference_for

pytestmark = pytest.mark.stack
WELCOME_PAISE = 1_000_000


def paise(amount: str) -> int:
    rupees, _, fraction = amount.partition(".")
    return int(rupees) * 100 + int(fraction or 0)


def ledger_balance(api: Api, user: User) -> int:
    total = 0
    for entry in api.history(user):
        if entry["status"] != "SUCCESS":
            continue
        total += paise(entry["amount"]) if entry["direction"] == "received" else -paise(entry["amount"])
    return total


def retry_until_settled(api: Api, sender: User, receiver: User, amount: str, key: str, timeout: float = 30) -> requests.Response:
    """Retry like a careful client: same key, back off on 409/5xx, until a final answer."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.transfer(sender, receiver, amount, key=key)
        if response.status_code not in (409, 500, 503) or time.monotonic() > deadline:
            return response
        time.sleep(float(response.headers.get("Retry-After", "0.5")))


def test_a_transfer_through_the_gateway(api: Api) -> None:
    asha, ravi = api.new_user(full_name="Asha"), api.new_user(full_name="Ravi")
    response = api.transfer(asha, ravi, "250.00", note="rent share")
    assert response.status_code == 201, response.text
    assert response.json()["balance"] == "9750.00"
    assert api.balance_paise(ravi) == WELCOME_PAISE + 25_000
    detail = api.get(f"/api/wallet/transactions/{response.json()['reference_id']}", ravi)
    assert detail.status_code == 200
    assert detail.json()["direction"] == "received"


def test_concurrent_transfers_conserve_money_and_move_each_key_at_most_once(api: Api) -> None:
    # Given ten accounts and sixteen clients sending random amounts among them, with retries
    users = [api.new_user() for _ in range(10)]
    rng = random.Random(20261124)
    plan = []
    for index in range(320):
        sender, receiver = rng.sample(users, 2)
        plan.append(
            (sender, receiver, f"{rng.randint(1, 4000)}.{rng.randint(0, 99):02d}", f"bank-{index:05d}-{uuid.uuid4().hex[:8]}")
        )
    plan += [rng.choice(plan) for _ in range(len(plan) // 10)]  # 10% sent again with the same key
    rng.shuffle(plan)
    acknowledged: Counter[str] = Counter()
    references: dict[str, set[str]] = {}
    lock = threading.Lock()

    def send(item: tuple[User, User, str, str]) -> None:
        sender, receiver, amount, key = item
        client = Api(api.base_url)
        try:
            response = client.transfer(sender, receiver, amount, key=key)
        finally:
            client.close()
        assert response.status_code in (201, 409, 422), response.text
        if response.status_code == 201:
            with lock:
                acknowledged[key] += 1
                references.setdefault(key, set()).add(response.json()["reference_id"])

    # When they all run at once
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(send, plan))

    # Then no money was made or lost, no balance is negative, each key has one reference
    balances = {user.id: api.balance_paise(user) for user in users}
    assert sum(balances.values()) == WELCOME_PAISE * len(users)
    assert min(balances.values()) >= 0
    assert all(len(refs) == 1 for refs in references.values())
    # And each key moved money at most once: one ledger entry per side per reference
    sent_references = Counter(
        entry["reference_id"] for user in users for entry in api.history(user, direction="sent") if entry["status"] == "SUCCESS"
    )
    assert max(sent_references.values()) == 1
    assert {next(iter(refs)) for refs in references.values()} <= set(sent_references)
    # And every account's ledger replays to its balance
    for user in users:
        assert ledger_balance(api, user) == balances[user.id]


def test_a_lost_idempotency_completion_after_commit_moves_money_once(api: Api, stack: RunningStack) -> None:
    # Given the idempotency record's completion will fail after the transfer commits
    asha, ravi = api.new_user(), api.new_user()
    key = f"crash-{uuid.uuid4()}"
    stack.set_faults(
        {
            "fault": "server_error",
            "function": "WalletFunction",
            "operation": "UpdateItem",
            "table": stack.resource("IdempotencyTable"),
        }
    )
    # When the client sends, sees a failure, and (the store healthy again) retries with the same key
    first = api.transfer(asha, ravi, "123.45", key=key)
    assert first.status_code == 503
    stack.set_faults()
    final = retry_until_settled(api, asha, ravi, "123.45", key)
    # Then the retry returns the original transaction and the money moved exactly once
    assert final.status_code == 201, final.text
    assert final.json()["reference_id"] == reference_for(asha.id, key)
    assert final.headers["Idempotent-Replayed"] == "true"
    assert api.balance_paise(asha) == WELCOME_PAISE - 12_345
    assert api.balance_paise(ravi) == WELCOME_PAISE + 12_345


def test_a_crash_right_after_commit_moves_money_once(api: Api, stack: RunningStack) -> None:
    # Given the wallet's process dies right after the transfer's transaction commits
    asha, ravi = api.new_user(), api.new_user()
    key = f"crash-{uuid.uuid4()}"
    stack.set_faults(
        {"fault": "crash_after_commit", "function": "WalletFunction", "operation": "TransactWriteItems", "remaining": 1}
    )
    # When the client retries until it gets an answer
    first = api.transfer(asha, ravi, "10.00", key=key)
    assert first.status_code == 500
    final = retry_until_settled(api, asha, ravi, "10.00", key)
    # Then it is the original transfer, once
    assert final.status_code == 201, final.text
    assert final.json()["reference_id"] == reference_for(asha.id, key)
    assert api.balance_paise(ravi) == WELCOME_PAISE + 1_000


def test_a_lost_response_is_retried_by_botocore_and_moves_money_once(api: Api, stack: RunningStack) -> None:
    asha, ravi = api.new_user(), api.new_user()
    stack.set_faults({"fault": "lost_response", "function": "WalletFunction", "operation": "TransactWriteItems", "remaining": 1})
    response = api.transfer(asha, ravi, "5.00")
    assert response.status_code == 201, response.text
    assert stack.fault_rules()[0]["injected"] == 1
    assert api.balance_paise(ravi) == WELCOME_PAISE + 500


def test_transaction_conflicts_are_retried_then_409(api: Api, stack: RunningStack) -> None:
    asha, ravi = api.new_user(), api.new_user()
    stack.set_faults({"fault": "conflict", "function": "WalletFunction", "operation": "TransactWriteItems", "remaining": 2})
    assert api.transfer(asha, ravi, "1.00").status_code == 201  # two conflicts absorbed by the retries
    stack.set_faults({"fault": "conflict", "function": "WalletFunction", "operation": "TransactWriteItems"})
    response = api.transfer(asha, ravi, "1.00")
    assert response.status_code == 409
    assert response.json()["type"].endswith("concurrent-update")
    assert api.balance_paise(ravi) == WELCOME_PAISE + 100


def test_a_request_still_in_flight_is_409(api: Api, stack: RunningStack) -> None:
    # Given a transfer whose process dies mid-flight, leaving its idempotency record in progress
    asha, ravi = api.new_user(), api.new_user()
    key = f"inflight-{uuid.uuid4()}"
    stack.set_faults({"fault": "crash_after_commit", "function": "WalletFunction", "operation": "BatchGetItem", "remaining": 1})
    assert api.transfer(asha, ravi, "1.00", key=key).status_code == 500
    # When it is retried at once
    response = api.transfer(asha, ravi, "1.00", key=key)
    # Then it is 409 with Retry-After, and nothing moved
    assert response.status_code == 409
    assert response.json()["type"].endswith("request-in-flight")
    assert "Retry-After" in response.headers
    assert api.balance_paise(ravi) == WELCOME_PAISE


def test_another_users_transaction_and_history_are_unreachable(api: Api) -> None:
    asha, ravi, mallory = api.new_user(), api.new_user(), api.new_user()
    reference = api.transfer(asha, ravi, "7.00").json()["reference_id"]
    assert api.get(f"/api/wallet/transactions/{reference}/", mallory).status_code == 404
    assert all(entry["reference_id"] != reference for entry in api.history(mallory))


def test_trailing_slash_and_none_are_the_same_route(api: Api) -> None:
    user = api.new_user()
    assert api.get("/api/wallet/balance", user).json() == api.get("/api/wallet/balance/", user).json()
