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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked own_stacks runs beside the shared stack's tests in `make test`, in a process
    of its own: were it to use the shared stack, that process would start a second one."""
    sharing = [
        item.nodeid for item in items if item.get_closest_marker("own_stacks") and "stack" in getattr(item, "fixturenames", ())
    ]
    if sharing:
        raise pytest.UsageError(f"marked own_stacks but using the shared stack fixture: {sharing}")


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
