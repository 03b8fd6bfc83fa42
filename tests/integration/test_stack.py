"""The local stack end to end: gateway -> authorizer -> functions -> DynamoDB Local -> stream -> audit."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
import uuid
from pathlib import Path

import pytest

from tests.support.api import Api
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


def test_health_is_200_through_the_gateway(api: Api) -> None:
    response = api.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/api/nope", "/api/wallet/nope/", "/api/users/register/extra"])
def test_an_unknown_route_is_a_404_problem(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404


@pytest.mark.parametrize("path", ["/api/wallet/balance/", "/api/users/profile", "/api/wallet/history/"])
def test_a_route_behind_the_authorizer_without_a_token_is_401(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0.",  # alg none
    ],
)
def test_a_bad_token_is_401(api: Api, token: str) -> None:
    response = api.get("/api/wallet/balance/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_a_function_that_crashes_gives_500_and_the_next_request_works(api: Api, stack: RunningStack) -> None:
    # Given a user, and the wallet's process set to die right after its next balance read
    user = api.new_user()
    stack.set_faults({"fault": "crash_after_commit", "function": "WalletFunction", "operation": "GetItem", "remaining": 1})
    # When the balance is asked for
    crashed = api.get("/api/wallet/balance/", user)
    # Then the gateway answers a 500 problem, and keeps serving
    assert crashed.status_code == 500
    assert crashed.headers["Content-Type"] == "application/problem+json"
    assert api.get("/api/wallet/balance/", user).status_code == 200
    assert api.get("/api/health").status_code == 200


def test_a_function_that_raises_gives_500(api: Api, stack: RunningStack) -> None:
    user = api.new_user()
    stack.set_faults({"fault": "error_after_commit", "function": "WalletFunction", "operation": "GetItem", "remaining": 1})
    assert api.get("/api/wallet/balance/", user).status_code == 500
    assert api.get("/api/wallet/balance/", user).status_code == 200


def test_a_record_written_to_the_main_table_reaches_the_stream_consumer(stack: RunningStack) -> None:
    # Given a change written straight to the main table
    user_id = f"stream-{uuid.uuid4()}"
    stack.client("dynamodb").put_item(
        TableName=stack.resource("MainTable"),
        Item={
            "PK": {"S": f"USER#{user_id}"},
            "SK": {"S": "PROFILE"},
            "type": {"S": "PROFILE"},
            "user_id": {"S": user_id},
        },
    )
    # Then the audit function records it within a few seconds
    audit = stack.client("dynamodb")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        items = audit.scan(
            TableName=stack.resource("AuditTable"),
            FilterExpression="subject = :subject",
            ExpressionAttributeValues={":subject": {"S": f"USER#{user_id}"}},
        )["Items"]
        if items:
            assert items[0]["kind"]["S"] == "user_registered"
            return
        time.sleep(0.2)
    pytest.fail("the stream consumer never recorded the change")


def test_every_request_is_logged_with_method_path_status_time_and_function(api: Api, stack: RunningStack) -> None:
    # When the health route is called
    api.get("/api/health")
    # Then the console has one line for it: method, path, status, milliseconds and the function that answered
    pattern = re.compile(r"\[gateway\] GET /api/health 200 \d+ms HealthFunction")
    assert any(pattern.fullmatch(line) for line in stack.logs().splitlines())


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "FOO", "DELETE", "PUT", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/api/wallet/balance/", "/api/health", "/api/nope"])
def test_a_method_no_route_takes_is_a_404_problem(stack: RunningStack, method: str, path: str) -> None:
    # When a path is called with a method that no route of it takes (HTTP APIs answer 404 then)
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request(method, path)
    response = connection.getresponse()
    # Then it is a 404 problem, never the HTTP server's own HTML page
    assert response.status == 404
    assert response.getheader("Content-Type") == "application/problem+json"
    assert json.loads(response.read())["status"] == 404
    connection.close()


@pytest.mark.parametrize(
    ("request_head", "status"),
    [
        (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n", 400),
        (b"OPTIONS * HTTP/1.1\r\nHost: x\r\n", 400),
        (b"GET /api/health HTTP/1.1 extra\r\n", 400),
        (b"GET /api/health HTTP/7.0\r\n", 505),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n", 414),
        (b"GET /api/health HTTP/1.1\r\n" + b"X-Filler: x\r\n" * 120, 431),
    ],
)
def test_what_the_http_server_cannot_parse_is_a_problem_too(stack: RunningStack, request_head: bytes, status: int) -> None:
    # When the request line or its headers cannot be served as they are
    host, port = stack.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request_head + b"\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    # Then the answer is a problem+json with that status, not an HTML page, and the connection closes
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split(b" ")[1] == str(status).encode()
    assert b"Content-Type: application/problem+json" in head.split(b"\r\n")
    assert json.loads(body)["status"] == status
    assert Api(stack.url).get("/api/health").status_code == 200


def test_an_oversized_body_is_413(api: Api) -> None:
    response = api.post(
        "/api/users/login/", data=b"{" + b" " * (11 * 1024 * 1024) + b"}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_the_dashboard_is_served_at_the_root(api: Api) -> None:
    response = api.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")


def test_the_openapi_document_is_published(api: Api) -> None:
    response = api.get("/api/openapi.json")
    assert response.status_code == 200
    assert "/api/wallet/transfer/" in response.json()["paths"]


def test_the_gateway_listens_on_loopback_only(stack: RunningStack) -> None:
    # /proc/net/tcp lists listening sockets (state 0A) as hex "address:port"; 0100007F is 127.0.0.1.
    port = int(stack.url.rsplit(":", 1)[1])
    listening = [
        fields[1].split(":")[0]
        for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port
    ]
    assert listening == ["0100007F"]


def test_every_template_route_is_served_by_the_local_gateway(api: Api) -> None:
    # Given a logged-in user and every route of the template
    from local.template import SamTemplate

    user = api.new_user()
    for route in SamTemplate.load().routes():
        if route.path == "$default":
            continue
        path = route.path.replace("{reference_id}", str(uuid.uuid4()))
        # When it is called (with a token where the authorizer guards it)
        response = api.request(route.method, path, json={}, headers=user.auth if route.authorizer else {})
        # Then the route's own function answered: not the gateway's "no such route", nor the
        # $default fallback's not-found (what any path outside the route table gets)
        answer = response.json() if response.content else {}  # a 204 (log out everywhere) has no body
        assert answer.get("detail") != "No such route.", route.route_key
        assert not str(answer.get("type", "")).endswith("/not-found"), (route.route_key, answer)
        assert response.status_code < 500, (route.route_key, response.text)


def test_a_path_outside_the_route_table_gets_the_fallbacks_not_found(api: Api) -> None:
    # The check above is only meaningful if the fallback answers exactly this way.
    response = api.request("POST", "/api/wallet/transferz/", json={})
    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")


def test_a_malformed_content_length_is_a_400_problem_and_the_gateway_keeps_serving(stack: RunningStack) -> None:
    # Found by the fuzzer: a Content-Length that is not a number used to kill the request thread.
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/api/users/login/")
    connection.putheader("Content-Length", ":")
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 400
    assert response.getheader("Content-Type") == "application/problem+json"
    connection.close()
    assert Api(stack.url).get("/api/health").status_code == 200
