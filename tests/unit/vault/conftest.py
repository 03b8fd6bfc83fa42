"""What the vault's logic tests share: the stores, the clock, the login guard's counters, a password hash."""

from __future__ import annotations

import pytest

from tests.unit.fakes import FakeAttemptStore, FakeClock, Tables
from tests.unit.vault.test_vault_logic import PASSWORD
from vaultpay.core.passwords import hash_password


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)  # once per module: argon2 is deliberately slow


@pytest.fixture
def tables() -> Tables:
    return Tables()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def failures() -> FakeAttemptStore:
    return FakeAttemptStore()
