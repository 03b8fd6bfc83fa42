"""The daily sending limit through the whole stack (DynamoDB Local, the gateway, worker processes):
concurrent transfers never pass it, and the refused ones say how much remains today."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from tests.support.api import Api
from tests.support.stack import RunningStack
from vaultpay.core import table as keys
from vaultpay.core.dynamo import marshal
from vaultpay.wallet.logic import sending_day

pytestmark = pytest.mark.stack
DAILY_LIMIT_PAISE = 10_000_000  # the template's default: Rs 1,00,000.00
ALREADY_SENT = 9_500_000  # Rs 95,000.00: Rs 5,000.00 of room left today
CONFLICT_RETRIES = 5  # sixteen transfers from one account at once: some meet a busy account (409)


def test_sixteen_concurrent_transfers_never_pass_the_daily_limit(api: Api, stack: RunningStack) -> None:
    # Given Asha (Rs 10,000 welcome credit) who has already sent Rs 95,000 today, per her day's counter
    asha, ravi = api.new_user(full_name="Asha"), api.new_user(full_name="Ravi")
    day = sending_day(datetime.now(UTC), DAILY_LIMIT_PAISE)
    stack.client("dynamodb").put_item(
        TableName=stack.resource("MainTable"),
        Item=marshal({**keys.daily_sent_key(asha.id, day.day), "type": keys.TYPE_DAILY_SENT, "sent": ALREADY_SENT}),
    )
    assert api.get("/api/wallet/limits/", asha).json()["remaining_today"] == "5000.00"

    # When sixteen threads each send Rs 500 at once (below the step-up threshold), each with its own
    # key, retrying with that key while the answer is 409 concurrent-update, as the problem asks
    def send(_: int) -> tuple[int, dict[str, str]]:
        key = str(uuid.uuid4())
        for _attempt in range(CONFLICT_RETRIES):
            response = api.transfer(asha, ravi, "500.00", key=key)
            if response.status_code != 409:
                break
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(send, range(16)))

    # Then what succeeded adds up to at most the room left (here exactly: ten), and no more
    succeeded = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status != 201]
    assert sum(int(body["amount"].replace(".", "")) for body in succeeded) <= DAILY_LIMIT_PAISE - ALREADY_SENT
    assert len(succeeded) == 10, results
    # And every refusal is daily-limit-exceeded, saying how much remains today (nothing by then) and when the day ends
    assert all(body["type"].endswith("/daily-limit-exceeded") for body in refused), refused
    assert {body["remaining"] for body in refused} == {"0.00"}
    assert {body["resets_at"] for body in refused} == {day.resets_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    # And the balances and the counter agree: Rs 5,000 moved, nothing recorded for the refused ones
    assert api.balance_paise(asha) == 1_000_000 - 500_000
    limits = api.get("/api/wallet/limits/", asha).json()
    assert (limits["sent_today"], limits["remaining_today"]) == ("100000.00", "0.00")
    assert [entry["status"] for entry in api.history(asha)].count("FAILED") == 0
