"""Shared fixtures: the local stack, started once per test session when a test needs it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.api import Api
from tests.support.stack import RunningStack, start_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def api(stack: RunningStack) -> Iterator[Api]:
    stack.set_faults()
    client = Api(stack.url)
    yield client
    stack.set_faults()
    client.close()
