"""Shared fixtures: the local stack, started once per test session when a test needs it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

# Powertools reads these when vaultpay.core.observability is first imported, which may be at
# collection time: give in-process tests what the template's Globals give every function.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "VaultPay")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

if TYPE_CHECKING:
    from tests.support.api import Api
    from tests.support.stack import RunningStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    # Imported here, not at collection: the unit tier never loads boto3 or the local stack.
    from tests.support.stack import running_stack

    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture
def api(stack: RunningStack) -> Iterator[Api]:
    from tests.support.api import Api

    stack.set_faults()
    client = Api(stack.url)
    yield client
    stack.set_faults()
    client.close()
