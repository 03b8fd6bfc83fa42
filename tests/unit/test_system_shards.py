"""The issuance (system) account is sharded: which ids are its shards, and how a shard is chosen."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from vaultpay.core.records import SYSTEM_EMAIL, SYSTEM_USER_ID, is_system_account, system_party_for, system_shard_id


@pytest.mark.parametrize("user_id", [SYSTEM_USER_ID, "SYSTEM-00", "SYSTEM-07", "SYSTEM-15", "SYSTEM-123"])
def test_the_shards_and_the_legacy_account_are_system_accounts(user_id: str) -> None:
    assert is_system_account(user_id)


@pytest.mark.parametrize("user_id", ["SYSTEMS", "SYSTEM-", "SYSTEM-7", "SYSTEM-07x", "system-07", str(uuid.uuid4())])
def test_nothing_else_is(user_id: str) -> None:
    assert not is_system_account(user_id)


def test_a_user_is_always_paid_by_the_same_shard() -> None:
    # Given a user id
    user_id = "7d4c1f0e-3b1a-4c55-9d2e-0f1e2d3c4b5a"
    # Then the shard chosen for it never changes (a retried registration writes the same item)
    assert system_party_for(user_id, 16) == system_party_for(user_id, 16)
    assert system_party_for(user_id, 16).email == SYSTEM_EMAIL


def test_random_user_ids_spread_over_every_shard() -> None:
    # Given many new users (their ids are random UUIDs)
    chosen = Counter(system_party_for(str(uuid.uuid4()), 16).user_id for _ in range(4000))
    # Then every shard pays some of them, none more than twice its share
    assert set(chosen) == {system_shard_id(shard) for shard in range(16)}
    assert max(chosen.values()) < 2 * 4000 / 16
