"""The unit tier: the domain logic against the in-memory fakes of ``tests/unit/fakes.py``.

Nothing here reaches the network or AWS. Every unit test runs with sockets unable to connect or
resolve a name, and with boto3 unable to make a client; nothing AWS is configured (no region, no
credentials, no endpoint), and no unit test imports moto (``test_layering`` checks it).
"""

from __future__ import annotations

import socket
import sys
from typing import NoReturn

import pytest

from tests.unit.fakes import FakeAttemptStore, Tables


class NetworkBlocked(RuntimeError):
    """A unit test tried to reach the network (or AWS): it belongs in another tier, or needs a fake."""


def _refuse_network(*_args: object, **_kwargs: object) -> NoReturn:
    raise NetworkBlocked("unit tests do not use the network: use the fakes in tests/unit/fakes.py")


def _refuse_client(*_args: object, **_kwargs: object) -> NoReturn:
    raise NetworkBlocked("unit tests do not create boto3 clients: use the fakes in tests/unit/fakes.py")


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _refuse_network)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse_network)
    monkeypatch.setattr(socket, "create_connection", _refuse_network)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse_network)
    # Another tier's conftest may have loaded botocore in this session; unit tests never import it,
    # but none may use it either.
    botocore_session = sys.modules.get("botocore.session")
    if botocore_session is not None:
        monkeypatch.setattr(botocore_session.Session, "create_client", _refuse_client)


@pytest.fixture
def tables() -> Tables:
    """Empty tables; a module whose tests start with accounts open gives its own."""
    return Tables()


@pytest.fixture
def failures() -> FakeAttemptStore:
    return FakeAttemptStore()
