"""What the vault's logic tests share: the clock and a password hash (the tables and the login
guard's counters are the unit tier's, tests/unit/conftest.py)."""

from __future__ import annotations

import pytest

from tests.unit.fakes import FakeClock
from tests.unit.vault.test_vault_logic import PASSWORD
from vaultpay.core.passwords import hash_password


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)  # once per module: argon2 is deliberately slow


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
