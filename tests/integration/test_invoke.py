"""`make invoke`: every event in events/ runs through its function, as `sam local invoke` would run it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.invoke import RECEIVER, invoke
from local.template import ROOT
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack
EVENTS = ROOT / "events"
SAM = ROOT / ".venv-sam" / "bin" / "sam"

# event file -> (function, expected statusCode or None for non-HTTP results, keys of the JSON body)
EXPECTED: dict[str, tuple[str, int | None, set[str]]] = {
    "health.json": ("HealthFunction", 200, {"status"}),
    "unknown-route.json": ("HealthFunction", 404, {"type", "title", "status", "detail", "instance"}),
    "register.json": ("IdentityFunction", 201, {"id", "email", "full_name", "aadhaar_masked", "balance", "created_at"}),
    "login.json": ("IdentityFunction", 200, {"access", "refresh", "expires_in"}),
    "token-refresh.json": ("IdentityFunction", 200, {"access", "refresh", "expires_in"}),
    "logout.json": ("IdentityFunction", 204, set()),
    "profile.json": ("IdentityFunction", 200, {"id", "email", "full_name", "aadhaar_masked", "created_at"}),
    "reveal-aadhaar.json": ("VaultFunction", 200, {"aadhaar"}),
    "transfer.json": ("WalletFunction", 201, {"reference_id", "status", "amount", "receiver", "note", "created_at", "balance"}),
    "transfer-insufficient-funds.json": (
        "WalletFunction",
        422,
        {"type", "title", "status", "detail", "instance", "reference_id"},
    ),
    "balance.json": ("WalletFunction", 200, {"balance", "currency", "version"}),
    "balance-not-modified.json": ("WalletFunction", 304, set()),
    "history-page.json": ("WalletFunction", 200, {"results", "next_cursor"}),
    "history-sent.json": ("WalletFunction", 200, {"results", "next_cursor"}),
    "transaction-detail.json": (
        "WalletFunction",
        200,
        {"reference_id", "kind", "status", "direction", "amount", "sender", "receiver", "note", "failure_reason", "created_at"},
    ),
    "authorizer.json": ("AuthorizerFunction", None, {"isAuthorized", "context"}),
    "stream-transfer.json": ("AuditFunction", None, {"batchItemFailures"}),
}


def test_every_event_file_has_an_expectation() -> None:
    assert {path.name for path in EVENTS.glob("*.json")} == set(EXPECTED) | {"authorizer-bad-token.json"}


@pytest.mark.parametrize("event_file", sorted(EXPECTED))
def test_every_event_gives_the_expected_answer(stack: RunningStack, event_file: str) -> None:
    # Given an event from events/ and the function that takes it
    function, status, keys = EXPECTED[event_file]
    # When it is invoked as `make invoke` would
    result, failed = invoke(function, EVENTS / event_file, state_dir=stack.state_dir)
    # Then the function answered as expected
    assert not failed, result
    if status is None:
        assert set(result) == keys
        return
    assert result["statusCode"] == status, result
    body = json.loads(result["body"]) if result.get("body") else {}
    assert set(body) == keys


def test_a_stream_batch_is_recorded_and_verified(stack: RunningStack) -> None:
    result, failed = invoke("audit", EVENTS / "stream-transfer.json", state_dir=stack.state_dir)
    assert not failed
    assert result == {"batchItemFailures": []}


def test_a_bad_token_is_refused_as_api_gateway_expects(stack: RunningStack) -> None:
    result, failed = invoke("authorizer", EVENTS / "authorizer-bad-token.json", state_dir=stack.state_dir)
    assert failed
    assert result["errorMessage"] == "Unauthorized"


def test_the_command_line_prints_the_response_and_a_report(stack: RunningStack) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "local.invoke", "wallet", "events/balance.json", "--state-dir", str(stack.state_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["statusCode"] == 200
    assert "REPORT RequestId:" in completed.stderr
    assert "INIT_REPORT Init Duration:" in completed.stderr


@pytest.mark.skipif(not SAM.exists(), reason="the SAM CLI is installed by `make test` (.venv-sam)")
def test_an_event_generated_by_sam_local_generate_event_is_accepted(stack: RunningStack, tmp_path: Path) -> None:
    # Given the event `sam local generate-event apigateway http-api-proxy` makes, set for the transfer route
    generated = subprocess.run(
        [str(SAM), "local", "generate-event", "apigateway", "http-api-proxy"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    event: dict[str, Any] = json.loads(generated.stdout)
    event["routeKey"] = event["requestContext"]["routeKey"] = "POST /api/wallet/transfer/"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/api/wallet/transfer/"
    event["requestContext"]["http"]["method"] = "POST"
    event["rawQueryString"] = ""
    event.pop("queryStringParameters", None)
    event["headers"] = {**event["headers"], "content-type": "application/json", "idempotency-key": "{{idempotency_key}}"}
    event["requestContext"]["authorizer"] = {"lambda": {"user_id": "{{sender_id}}"}}
    body = json.dumps({"receiver_email": RECEIVER["email"], "amount": "2.50"})  # base64: no placeholders inside
    event["body"], event["isBase64Encoded"] = base64.b64encode(body.encode()).decode(), True
    path = tmp_path / "generated-transfer.json"
    path.write_text(json.dumps(event))
    # When the wallet function gets it
    result, failed = invoke("wallet", path, state_dir=stack.state_dir)
    # Then it is a real transfer
    assert not failed, result
    assert result["statusCode"] == 201, result
    assert json.loads(result["body"])["amount"] == "2.50"
