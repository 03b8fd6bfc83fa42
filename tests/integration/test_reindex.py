"""`make reindex` on the local stack: guards of the old format (a user id inside, an HMAC under the
old Secrets Manager key) rebuilt from the vault with the KMS index key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import subprocess
import sys
from typing import Any

import pytest

from local.template import ROOT
from tests.support.api import Api, User
from tests.support.data import registration
from tests.support.stack import RunningStack
from vaultpay.core import table as keys
from vaultpay.core.dynamo import marshal, unmarshal

pytestmark = [pytest.mark.stack, pytest.mark.own_stacks]


def guards(stack: RunningStack) -> list[dict[str, Any]]:
    client = stack.client("dynamodb")
    items = [
        unmarshal(item)
        for page in client.get_paginator("scan").paginate(TableName=stack.resource("MainTable"))
        for item in page["Items"]
    ]
    return [item for item in items if item[keys.PK].startswith("AADHAAR#")]


def to_the_old_format(stack: RunningStack, users: list[User]) -> None:
    """Replace each user's guard by the one the old code wrote: HMAC-SHA256 under a Secrets
    Manager key, with the user id beside it."""
    client = stack.client("dynamodb")
    table = stack.resource("MainTable")
    old_secret = secrets.token_urlsafe(48)
    for guard in guards(stack):
        client.delete_item(TableName=table, Key=marshal(keys.key(guard[keys.PK], guard[keys.SK])))
    for user in users:
        old_index = hmac.new(old_secret.encode(), user.aadhaar.encode(), hashlib.sha256).hexdigest()
        client.put_item(
            TableName=table,
            Item=marshal(
                {**keys.key(keys.aadhaar_pk(old_index), keys.AADHAAR_SK), "type": keys.TYPE_AADHAAR_GUARD, "user_id": user.id}
            ),
        )


def run_reindex(stack: RunningStack) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.reindex", "--state-dir", str(stack.state_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_reindex_rebuilds_old_guards_so_duplicates_are_refused_and_no_guard_names_anyone(own_stack: RunningStack) -> None:
    # Given people registered under the old format: their guards hold their user ids, under an
    # index that the KMS key does not reproduce (a duplicate registration would slip through)
    api = Api(own_stack.url)
    users = [api.register(full_name=f"Old Format {n}") for n in range(3)]
    to_the_old_format(own_stack, users)
    assert all("user_id" in guard for guard in guards(own_stack))
    # When `make reindex` runs
    completed = run_reindex(own_stack)
    # Then it succeeds, reporting counts and nothing secret
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "old guards deleted   3" in completed.stdout
    for user in users:
        assert user.aadhaar not in completed.stdout + completed.stderr
    # and every guard is the new one: no user id, nothing but its type
    after = guards(own_stack)
    assert len(after) == 3
    assert all(set(guard) == keys.AADHAAR_GUARD_ATTRIBUTES for guard in after)
    assert not any(user.id in repr(after) for user in users)
    assert not any(guard[keys.PK].removeprefix("AADHAAR#") in completed.stdout for guard in after)
    # and a second registration of a re-indexed number is refused
    response = api.post("/api/users/register/", registration("late.duplicate@example.com", aadhaar=users[0].aadhaar))
    assert response.status_code == 409
    assert response.json()["type"].endswith("aadhaar-taken")
    # and running it again changes nothing
    again = run_reindex(own_stack)
    assert again.returncode == 0
    assert "guards written       0" in again.stdout
    assert "old guards deleted   0" in again.stdout
    assert guards(own_stack) == after
