"""The unit tier's isolation: no socket connects, no name resolves, no boto3 client is made."""

from __future__ import annotations

import socket
import sys

import pytest

from tests.unit.conftest import NetworkBlocked


def test_a_connection_is_refused() -> None:
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)


def test_a_raw_socket_cannot_connect() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as raw:
        with pytest.raises(NetworkBlocked):
            raw.connect(("127.0.0.1", 9))
        with pytest.raises(NetworkBlocked):
            raw.connect_ex(("127.0.0.1", 9))


def test_no_name_resolves() -> None:
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("dynamodb.ap-south-1.amazonaws.com", 443)


def test_a_boto3_client_cannot_be_made() -> None:
    # Only when another tier's conftest has loaded boto3 into this session: a unit test never imports it.
    boto3 = sys.modules.get("boto3")
    if boto3 is None or "botocore.session" not in sys.modules:
        pytest.skip("boto3 is not loaded in this session")
    with pytest.raises(NetworkBlocked):
        boto3.client("dynamodb", region_name="ap-south-1")
